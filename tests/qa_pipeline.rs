//! Extractive question answering against transformers' own question-answering pipeline
//! (`tests/fixtures/pipelines/qa.json`, written by `scripts/make_qa_fixtures.py` with the last
//! transformers 4 release): strided windows, whole-word answers, the pipeline's softmax,
//! duplicate spans merged, `top_k`, `max_answer_len`, `handle_impossible_answer`.

use std::path::PathBuf;

use nanobert::io::Checkpoint;
use nanobert::pipeline::{QaOptions, QuestionAnswerer};
use serde_json::Value;

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(rel)
}

fn cases() -> Vec<Value> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(fixture("pipelines/qa.json")).unwrap()).unwrap();
    v["cases"].as_array().unwrap().clone()
}

fn options(kwargs: &Value) -> QaOptions {
    let d = QaOptions::default();
    let n = |k: &str| kwargs.get(k).and_then(Value::as_u64).map(|v| v as usize);
    let b = |k: &str| kwargs.get(k).and_then(Value::as_bool);
    QaOptions {
        top_k: n("top_k").unwrap_or(d.top_k),
        doc_stride: n("doc_stride"),
        max_seq_len: n("max_seq_len"),
        max_answer_len: n("max_answer_len").unwrap_or(d.max_answer_len),
        align_to_words: b("align_to_words").unwrap_or(d.align_to_words),
        handle_impossible_answer: b("handle_impossible_answer").unwrap_or(d.handle_impossible_answer),
    }
}

fn answerer() -> QuestionAnswerer {
    QuestionAnswerer::from_checkpoint(&Checkpoint::open(&fixture("checkpoints/head-qa")).unwrap()).unwrap()
}

#[test]
fn windows_are_the_tokenizers_overflowing_windows() {
    let qa = answerer();
    let mut several = 0;
    for case in cases() {
        let (q, c) = (case["question"].as_str().unwrap(), case["context"].as_str().unwrap());
        let windows = qa.windows(q, c, &options(&case["kwargs"])).unwrap();
        let want: Vec<Vec<u32>> = case["windows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_array().unwrap().iter().map(|i| i.as_u64().unwrap() as u32).collect())
            .collect();
        let got: Vec<Vec<u32>> = windows.iter().map(|w| w.ids.clone()).collect();
        assert_eq!(got, want, "{}: the windows", case["name"]);
        several += usize::from(want.len() > 1);
    }
    assert!(several >= 3, "the fixture must have long contexts read in several windows");
}

#[test]
fn answers_match_the_question_answering_pipeline() {
    let qa = answerer();
    for case in cases() {
        let name = case["name"].as_str().unwrap();
        let (q, c) = (case["question"].as_str().unwrap(), case["context"].as_str().unwrap());
        let got = qa.answers(q, c, &options(&case["kwargs"])).unwrap();
        let want = case["answers"].as_array().unwrap();
        let show: Vec<(&str, f32)> = got.iter().map(|a| (a.answer.as_str(), a.score)).collect();
        assert_eq!(got.len(), want.len(), "{name}: number of answers; ours {show:?}");
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g.answer, w["answer"].as_str().unwrap(), "{name}: ours {show:?}");
            assert_eq!(
                (g.start as u64, g.end as u64),
                (w["start"].as_u64().unwrap(), w["end"].as_u64().unwrap()),
                "{name}: {}",
                g.answer
            );
            let d = (g.score as f64 - w["score"].as_f64().unwrap()).abs();
            assert!(d < 1e-6, "{name}: score of {:?} is {}, the pipeline's {} ", g.answer, g.score, w["score"]);
        }
    }
}

/// What the fixture must exercise, so that the test above cannot pass on a simpler rule.
#[test]
fn the_fixture_covers_merging_word_alignment_and_windows() {
    let by_name = |n: &str| cases().into_iter().find(|c| c["name"] == n).unwrap();
    // Merged duplicates: the same best answer scores higher when more candidates are kept
    // (top_k 5 keeps 20 spans per window, top_k 1 keeps 12), because more spans merge into it.
    let (one, five) = (by_name("windows"), by_name("windows-top5"));
    assert_eq!(one["answers"][0]["answer"], five["answers"][0]["answer"]);
    assert!(five["answers"][0]["score"].as_f64().unwrap() > one["answers"][0]["score"].as_f64().unwrap() + 1e-3);
    // Whole words: with alignment every answer ends at a word boundary; without, one does not.
    let ends_mid_word = |case: &Value| {
        let ctx: Vec<char> = case["context"].as_str().unwrap().chars().collect();
        case["answers"].as_array().unwrap().iter().any(|a| {
            let e = a["end"].as_u64().unwrap() as usize;
            e < ctx.len() && ctx[e].is_alphanumeric() && ctx[e - 1].is_alphanumeric()
        })
    };
    assert!(!ends_mid_word(&by_name("subwords")) && ends_mid_word(&by_name("subwords-no-align")));
}
