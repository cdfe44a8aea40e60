//! Tokenization: WordPiece built from a vocab.txt, tokenizer.json loading with our padding and
//! truncation imposed, pairs, special tokens, errors.

use std::path::Path;

use nanobert::Error;
use nanobert::io::Checkpoint;
use nanobert::text::{Batch, Tokenizer};

/// A dozen-token BERT vocabulary; ids are line numbers.
const VOCAB: &[&str] = &[
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "dog", "##s", "!", "play", "##ing",
    "hello", "world", ".",
];

fn id(token: &str) -> u32 {
    VOCAB.iter().position(|t| *t == token).unwrap() as u32
}

fn ids(tokens: &str) -> Vec<u32> {
    tokens.split(' ').map(id).collect()
}

fn write_vocab(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("vocab.txt");
    std::fs::write(&path, VOCAB.join("\n") + "\n").unwrap();
    path
}

/// A tokenizer.json for VOCAB laid out like all-MiniLM-L6-v2's, including its
/// "pad everything to 128, truncate at 128" settings that we must override.
fn write_tokenizer_json(dir: &Path) -> std::path::PathBuf {
    let vocab: serde_json::Map<String, serde_json::Value> =
        VOCAB.iter().enumerate().map(|(i, t)| (t.to_string(), serde_json::json!(i))).collect();
    let added: Vec<serde_json::Value> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        .iter()
        .map(|t| {
            serde_json::json!({"id": id(t), "special": true, "content": t, "single_word": false,
                "lstrip": false, "rstrip": false, "normalized": false})
        })
        .collect();
    let json = serde_json::json!({
        "version": "1.0",
        "truncation": {"max_length": 128, "strategy": "LongestFirst", "stride": 0},
        "padding": {"strategy": {"Fixed": 128}, "direction": "Right", "pad_to_multiple_of": null,
            "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"},
        "added_tokens": added,
        "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
            "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [id("[CLS]")], "tokens": ["[CLS]"]},
                               "[SEP]": {"id": "[SEP]", "ids": [id("[SEP]")], "tokens": ["[SEP]"]}}},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
            "max_input_chars_per_word": 100, "vocab": vocab}
    });
    let path = dir.join("tokenizer.json");
    std::fs::write(&path, serde_json::to_string_pretty(&json).unwrap()).unwrap();
    path
}

/// Both tokenizers for VOCAB: (from vocab.txt, from tokenizer.json).
fn both(max_len: usize) -> (Tokenizer, Tokenizer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let a = Tokenizer::from_vocab_txt(&write_vocab(dir.path()), true, max_len).unwrap();
    let b = Tokenizer::from_file(&write_tokenizer_json(dir.path()), max_len).unwrap();
    (a, b, dir)
}

#[test]
fn single_texts_are_wordpieced_and_padded_to_the_longest() {
    let (a, b, _dir) = both(32);
    for tok in [&a, &b] {
        let batch = tok.encode_batch(&["The cat sat on the mat.", "Dogs playing!", "hello"]).unwrap();
        assert_eq!((batch.batch, batch.seq_len), (3, 9), "padded to the longest row, not to 128");
        let want = [
            ids("[CLS] the cat sat on the mat . [SEP]"),
            ids("[CLS] dog ##s play ##ing ! [SEP] [PAD] [PAD]"),
            ids("[CLS] hello [SEP] [PAD] [PAD] [PAD] [PAD] [PAD] [PAD]"),
        ]
        .concat();
        assert_eq!(batch.input_ids, want);
        assert_eq!(
            batch.attention_mask,
            [vec![1; 9], [vec![1; 7], vec![0; 2]].concat(), [vec![1; 3], vec![0; 6]].concat()].concat()
        );
        assert_eq!(batch.token_type_ids, vec![0; 27]);
        assert_eq!(batch.lengths(), vec![9, 7, 3]);
        assert_eq!(batch.tokens[1], ["[CLS]", "dog", "##s", "play", "##ing", "!", "[SEP]", "[PAD]", "[PAD]"]);
        assert_eq!(batch.row_ids(2), &ids("[CLS] hello [SEP] [PAD] [PAD] [PAD] [PAD] [PAD] [PAD]")[..]);
    }
}

#[test]
fn unknown_words_mask_and_decode() {
    let (a, b, _dir) = both(32);
    for tok in [&a, &b] {
        // "zebra" has no pieces in the vocabulary; [MASK] survives lowercasing as one token.
        let batch = tok.encode_batch(&["the zebra [MASK] !"]).unwrap();
        assert_eq!(batch.input_ids, ids("[CLS] the [UNK] [MASK] ! [SEP]"));
        assert_eq!(tok.mask_token_id(), Some(id("[MASK]")));
        assert_eq!(tok.token_to_id("##ing"), Some(id("##ing")));
        assert_eq!(tok.id_to_token(id("mat")).as_deref(), Some("mat"));
        assert_eq!(tok.vocab_size(), VOCAB.len());
        assert_eq!(tok.pad_token_id(), 0);
        assert_eq!(tok.decode(&ids("[CLS] dog ##s play ##ing on the mat [SEP]")).unwrap(), "dogs playing on the mat");
    }
}

#[test]
fn truncation_to_max_len_counts_special_tokens() {
    let (a, b, _dir) = both(5);
    for tok in [&a, &b] {
        let batch = tok.encode_batch(&["the cat sat on the mat", "dog"]).unwrap();
        assert_eq!(batch.seq_len, 5);
        assert_eq!(batch.input_ids, [ids("[CLS] the cat sat [SEP]"), ids("[CLS] dog [SEP] [PAD] [PAD]")].concat());
    }
}

#[test]
fn pairs_get_segment_ids_and_longest_first_truncation() {
    let (a, b, _dir) = both(32);
    for tok in [&a, &b] {
        let batch = tok.encode_pairs(&[("the cat", "the dog"), ("hello", "world !")]).unwrap();
        assert_eq!(batch.seq_len, 7);
        assert_eq!(
            batch.input_ids,
            [ids("[CLS] the cat [SEP] the dog [SEP]"), ids("[CLS] hello [SEP] world ! [SEP] [PAD]")].concat()
        );
        assert_eq!(batch.token_type_ids, [0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0]);
        assert_eq!(batch.attention_mask, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]);
    }
    let (a, b, _dir) = both(7);
    for tok in [&a, &b] {
        // 6 + 1 text tokens + 3 specials = 10 > 7: the longer text loses 3 tokens.
        let batch = tok.encode_pairs(&[("the cat sat on the mat", "dog")]).unwrap();
        assert_eq!(batch.input_ids, ids("[CLS] the cat sat [SEP] dog [SEP]"));
        assert_eq!(batch.token_type_ids, [0, 0, 0, 0, 0, 1, 1]);
    }
}

#[test]
fn cased_vocab_does_not_lowercase() {
    let dir = tempfile::tempdir().unwrap();
    let tok = Tokenizer::from_vocab_txt(&write_vocab(dir.path()), false, 16).unwrap();
    let batch = tok.encode_batch(&["The cat"]).unwrap();
    assert_eq!(batch.input_ids, ids("[CLS] [UNK] cat [SEP]"));
}

#[test]
fn errors_are_clear() {
    let (a, _b, dir) = both(16);
    assert!(matches!(a.encode_batch(&[]), Err(Error::Input(_))));
    assert!(matches!(a.encode_pairs(&[]), Err(Error::Input(_))));
    let err = Tokenizer::from_vocab_txt(&dir.path().join("missing.txt"), true, 16).unwrap_err();
    assert!(matches!(err, Error::File { .. }) && err.to_string().contains("missing.txt"), "{err}");
    let err = Tokenizer::from_file(&dir.path().join("missing.json"), 16).unwrap_err();
    assert!(err.to_string().contains("missing.json"), "{err}");
    std::fs::write(dir.path().join("bad.json"), "{\"version\": 1").unwrap();
    let err = Tokenizer::from_file(&dir.path().join("bad.json"), 16).unwrap_err();
    assert!(err.to_string().contains("bad.json"), "{err}");
    std::fs::write(dir.path().join("words.txt"), "a\nb\n").unwrap();
    let err = Tokenizer::from_vocab_txt(&dir.path().join("words.txt"), true, 16).unwrap_err();
    assert!(err.to_string().contains("words.txt") && err.to_string().contains("[CLS]"), "{err}");
    assert!(matches!(Tokenizer::from_vocab_txt(&dir.path().join("vocab.txt"), true, 1), Err(Error::Input(_))));
}

/// A checkpoint directory with the files `Checkpoint::open` requires.
fn checkpoint_dir(dir: &Path) {
    std::fs::write(dir.join("config.json"), r#"{"model_type": "bert"}"#).unwrap();
    nanobert::io::save(
        &dir.join("model.safetensors"),
        &[("x", nanobert::io::SaveTensor::F32(nanobert::Tensor::zeros(&[1])))],
    )
    .unwrap();
}

#[test]
fn from_checkpoint_prefers_tokenizer_json_then_vocab_txt() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    checkpoint_dir(d);
    let err = Tokenizer::from_checkpoint(&Checkpoint::open(d).unwrap(), 16).unwrap_err().to_string();
    assert!(err.contains("tokenizer.json") && err.contains(&d.display().to_string()), "{err}");

    // vocab.txt only, tokenizer_config.json says cased.
    write_vocab(d);
    std::fs::write(d.join("tokenizer_config.json"), r#"{"do_lower_case": false}"#).unwrap();
    let tok = Tokenizer::from_checkpoint(&Checkpoint::open(d).unwrap(), 16).unwrap();
    assert_eq!(tok.encode_batch(&["The cat"]).unwrap().input_ids, ids("[CLS] [UNK] cat [SEP]"));
    // Default for a bare vocab.txt: uncased.
    std::fs::remove_file(d.join("tokenizer_config.json")).unwrap();
    let tok = Tokenizer::from_checkpoint(&Checkpoint::open(d).unwrap(), 16).unwrap();
    assert_eq!(tok.encode_batch(&["The cat"]).unwrap().input_ids, ids("[CLS] the cat [SEP]"));

    // Both files, class BertTokenizer: as transformers 5's AutoTokenizer, the vocabulary comes
    // from tokenizer.json but the settings from tokenizer_config.json (its lowercasing normalizer
    // is replaced: cased). See tests/checkpoints.rs for the cases checked against transformers.
    write_tokenizer_json(d);
    std::fs::write(d.join("tokenizer_config.json"), r#"{"do_lower_case": false}"#).unwrap();
    let tok = Tokenizer::from_checkpoint(&Checkpoint::open(d).unwrap(), 16).unwrap();
    let batch: Batch = tok.encode_batch(&["The cat"]).unwrap();
    assert_eq!(batch.input_ids, ids("[CLS] [UNK] cat [SEP]"));
    // tokenizer_class PreTrainedTokenizerFast: tokenizer.json as it is (it lowercases).
    std::fs::write(
        d.join("tokenizer_config.json"),
        r#"{"do_lower_case": false, "tokenizer_class": "PreTrainedTokenizerFast"}"#,
    )
    .unwrap();
    let tok = Tokenizer::from_checkpoint(&Checkpoint::open(d).unwrap(), 16).unwrap();
    assert_eq!(tok.encode_batch(&["The cat"]).unwrap().input_ids, ids("[CLS] the cat [SEP]"));
}
