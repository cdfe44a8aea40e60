"""Builds tests/fixtures/precision/sentences.txt: the fixed, varied sentence set that
`nanobert bench precision` and scripts/quantize_baselines.py measure accuracy on.

One text per line, 3-200 tokens for all-MiniLM-L6-v2's tokenizer: short replies, everyday
and technical English, French, German, Spanish, Italian, Portuguese, Dutch, Russian, Chinese,
Japanese, Korean, Arabic, Hindi, numbers and dates, code, and long paragraphs (docstrings of
Python's standard library, so the set needs no download). Deterministic for a given Python
version; the committed file is the fixture (re-running on another Python may change the
docstring part).

    python3 scripts/make_precision_sentences.py [--tokenizer path/to/tokenizer.json]
"""

import argparse
import inspect
import os
import re

HAND = """ok
Thanks a lot
yes
no way
Hello!
Good morning, everyone.
See you tomorrow.
What time is it?
I love this song.
The cat sat on the mat.
A man is eating a piece of bread.
A person is eating food.
The new movie is awesome.
A cheetah chases its prey across the savanna.
The stock market fell sharply on Monday.
Someone is having breakfast.
A dog runs through the park.
The weather is lovely today, so we are going to the beach.
Could you please send me the report before Friday afternoon?
My flight was delayed by three hours because of the storm.
She bought a red bicycle and rode it to work every day.
The museum is closed on Mondays and public holidays.
He forgot his umbrella at the restaurant again.
Please restart your computer to complete the installation.
The meeting has been moved to the second floor conference room.
Water boils at 100 degrees Celsius at sea level.
Photosynthesis converts light energy into chemical energy stored in glucose.
The mitochondria is the powerhouse of the cell.
Quantum computers use qubits that can exist in superpositions of states.
The central bank raised interest rates by a quarter of a percentage point.
Our quarterly revenue grew 12% year over year, driven by cloud services.
The patient was prescribed 500 mg of amoxicillin three times daily.
Add two cups of flour, a pinch of salt and one egg, then stir gently.
The train to Berlin leaves from platform 7 at 14:35.
Call me at +1 (555) 012-3456 or email jane.doe@example.com.
Invoice #INV-2024-00731 is due on 2024-03-15; amount: $1,249.99.
The population of Tokyo is about 37.4 million people.
In 1969, Apollo 11 landed on the Moon.
3.14159 26535 89793 23846 26433 83279
0x7fff5fbff8a8 0xdeadbeef 0xCAFEBABE
1, 2, 3, 4, 5, 6, 7, 8, 9, 10
The answer is 42.
E = mc^2
2 + 2 = 4 and 3 * 7 = 21
Coordinates: 48.8584 N, 2.2945 E
Temperature: -17.5 C, humidity 83%, wind 24 km/h NW
Version 2.15.0-rc.3 was released on 12/03/2025.
SELECT name, COUNT(*) FROM users WHERE age > 30 GROUP BY name;
def add(a, b): return a + b
for (int i = 0; i < n; ++i) { sum += a[i] * b[i]; }
fn main() { println!("Hello, world!"); }
console.log(JSON.stringify({a: 1, b: [2, 3]}));
git commit -m "fix: handle empty input" && git push origin main
import numpy as np; x = np.zeros((3, 4), dtype=np.float32)
<div class="header"><a href="/home">Home</a></div>
curl -X POST https://api.example.com/v1/items -H "Content-Type: application/json" -d '{"id": 7}'
#include <stdio.h>
int main(void) { return 0; }
SyntaxError: invalid syntax
Traceback (most recent call last): File "main.py", line 3, in <module> KeyError: 'user_id'
Bonjour, comment allez-vous ?
Merci beaucoup pour votre aide.
Le chat dort sur le canapé depuis ce matin.
La réunion est reportée à jeudi prochain à dix heures.
Les chercheurs ont découvert une nouvelle espèce de grenouille en Amazonie.
Guten Tag!
Vielen Dank für Ihre schnelle Antwort.
Der Zug nach München hat leider zwanzig Minuten Verspätung.
Die Bundesregierung hat ein neues Gesetz zum Klimaschutz beschlossen.
Hola, ¿qué tal?
Muchas gracias por todo.
El restaurante abre a las ocho de la noche.
La inflación en España bajó al 3,2 % en febrero.
Ciao, come stai?
Il treno per Roma parte alle nove.
Obrigado pela ajuda!
O Brasil é o maior país da América do Sul.
Goedemorgen, hoe gaat het met je?
Het regent al de hele dag in Amsterdam.
Привет, как дела?
Москва — столица России.
Я люблю читать книги по вечерам.
你好
谢谢你的帮助。
今天天气很好，我们去公园散步吧。
北京是中国的首都，有着悠久的历史。
こんにちは
ありがとうございます。
東京は日本の首都です。
안녕하세요
서울은 한국의 수도입니다.
مرحبا
شكرا جزيلا
القاهرة هي عاصمة مصر.
नमस्ते
दिल्ली भारत की राजधानी है।
Γειά σου κόσμε
Merhaba, nasılsın?
Cześć, jak się masz?
:)
lol that's hilarious 😂😂
OMG!!! best day ever!!!
idk, maybe tmrw?
brb
I can't believe it's already December.
Why do cats always knock things off tables?
Is it possible to learn a new language in three months?
How do I reset my password if I no longer have access to my email?
The quick brown fox jumps over the lazy dog.
All work and no play makes Jack a dull boy.
To be, or not to be, that is the question.
It was the best of times, it was the worst of times.
In the beginning was the Word.
The results were statistically significant (p < 0.001, n = 2,413).
The model achieved an F1 score of 0.873 on the held-out test set.
Matrix multiplication is all you need.
Attention is all you need.
BERT uses a bidirectional transformer encoder pretrained with masked language modeling.
Int8 quantization reduces model size by a factor of four.
Sentence embeddings map text to vectors so that similar meanings are close together.
Paris
Tokyo, Japan
New York City
Apple Inc. reported record earnings.
apple pie recipe
the the the the the
[CLS] [SEP] [MASK]
a
Q: What is the capital of Australia? A: Canberra.
Customer: My order #55231 arrived damaged. Agent: I'm sorry to hear that, we'll send a replacement.
WARNING: disk usage at 97% on /dev/sda1
ERROR 2024-11-05T13:45:12Z connection refused (errno 111)
user@host:~$ sudo apt-get install build-essential
https://en.wikipedia.org/wiki/Transformer_(machine_learning_model)
The price went from $19.99 to $24.50, an increase of 22.6%.
Chapter 3, Section 2.1, Paragraph 4(b)(ii)
ISBN 978-3-16-148410-0
The recipe serves 4-6 people and takes about 45 minutes.
He scored 27 points, 11 rebounds and 8 assists in 36 minutes.
Buy 3 get 1 free!!!
Dear Sir or Madam, I am writing to apply for the position of data analyst advertised on your website.
The committee, after careful deliberation and extensive consultation with stakeholders from across the region, decided to postpone the vote until further evidence could be gathered.
Although the experiment initially seemed promising, subsequent replications failed to reproduce the effect, raising questions about the original methodology and the statistical analysis used.
"""


def docstrings():
    """First paragraphs of standard-library docstrings: long technical English."""
    import collections
    import json
    import pathlib
    import statistics
    import textwrap
    import urllib.parse

    out = []
    for mod in (collections, json, pathlib, statistics, textwrap, urllib.parse, re, os, inspect, argparse):
        for name, obj in sorted(vars(mod).items()):
            if name.startswith("_") or not callable(obj):
                continue
            doc = inspect.getdoc(obj) or ""
            para = " ".join(doc.split("\n\n")[0].split())
            if 60 <= len(para) <= 700 and para not in out:
                out.append(para)
    return out


def code_snippets():
    """Short runs of lines from standard-library source: code as text."""
    import json.decoder
    import textwrap

    out = []
    for mod in (textwrap, json.decoder):
        lines = [l.strip() for l in inspect.getsource(mod).splitlines()]
        lines = [l for l in lines if l and not l.startswith(("#", '"""', "'"))]
        for i in range(0, len(lines) - 4, 23):
            out.append(" ".join(lines[i : i + 4]))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokenizer", default=os.path.expanduser("~/.cache/nanobert/models/all-MiniLM-L6-v2/tokenizer.json"))
    ap.add_argument("--out", default="tests/fixtures/precision/sentences.txt")
    args = ap.parse_args()
    texts = [l for l in HAND.splitlines() if l.strip()]
    texts += docstrings()[:70]
    texts += code_snippets()[:30]
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(args.tokenizer)
    tok.no_truncation()
    tok.no_padding()
    # Long texts (150-200 tokens): consecutive docstrings joined.
    docs = docstrings()[70:]
    longs, cur = [], ""
    for d in docs:
        cand = (cur + " " + d).strip()
        if len(tok.encode(cand).ids) > 200:
            if len(tok.encode(cur).ids) >= 150:
                longs.append(cur)
            cur = d
        else:
            cur = cand
        if len(longs) == 12:
            break
    texts += longs
    kept = []
    for t in texts:
        n = len(tok.encode(t).ids)  # with [CLS] and [SEP]
        if 3 <= n <= 200 and t not in kept:
            kept.append(t)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("\n".join(kept) + "\n")
    lens = sorted(len(tok.encode(t).ids) for t in kept)
    print(f"{len(kept)} texts, tokens min {lens[0]} median {lens[len(lens) // 2]} max {lens[-1]} -> {args.out}")


if __name__ == "__main__":
    main()
