//! # The wire formats: requests, limits, answers and errors
//!
//! Two request shapes people already send:
//!
//! - Hugging Face text-embeddings-inference (TEI): `POST /embed`
//!   `{"inputs": "text" | ["a", "b"], "normalize": true, "truncate": false}` -> `[[f32; hidden]]`;
//!   errors `{"error": "...", "error_type": "Validation" | "Overloaded" | ...}`.
//!   <https://huggingface.github.io/text-embeddings-inference/>
//! - OpenAI: `POST /v1/embeddings` `{"input": "text" | ["a", "b"], "model": "...",
//!   "encoding_format": "float" | "base64"}` -> `{"object": "list", "data": [{"object":
//!   "embedding", "embedding": [...], "index": 0}], "model": "...", "usage": {"prompt_tokens",
//!   "total_tokens"}}`; errors `{"error": {"message", "type", "param", "code"}}`. The official
//!   Python client asks for base64 by default (little-endian f32 bytes), so both are served.
//!   <https://platform.openai.com/docs/api-reference/embeddings>
//!
//! Classification checkpoints get TEI's two other endpoints: `POST /rerank` ([`RerankRequest`]
//! -> `[{"index", "score", "text"?}]` best first) for cross-encoders and `POST /predict`
//! ([`PredictRequest`] -> `[{"score", "label"}]` best first, per input) for classifiers.
//!
//! Bodies are parsed here rather than by an extractor so that every malformed request gets a
//! 400 whose message says what is wrong, in the endpoint's error shape.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// Per-request limits; each refusal names the limit and its value.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest request body in bytes (413 above).
    pub max_body_bytes: usize,
    /// Most texts in one request (413 above; TEI's `max_client_batch_size`).
    pub max_texts: usize,
    /// Longest text in characters (413 above), checked before tokenizing.
    pub max_text_chars: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_body_bytes: 2 << 20, max_texts: 64, max_text_chars: 20_000 }
    }
}

/// Which error shape an endpoint speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// `{"error": msg, "error_type": kind}` (TEI).
    Tei,
    /// `{"error": {"message": msg, "type": kind, "param": null, "code": null}}` (OpenAI).
    OpenAi,
}

/// An error answer: status, a short kind and a message naming what is wrong.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// `Validation`, `Overloaded`, `Unhealthy`, `Backend`, `NotFound` ...
    pub kind: &'static str,
    /// What is wrong, naming the field or limit.
    pub message: String,
    /// The error shape.
    pub dialect: Dialect,
}

impl ApiError {
    /// A 400 (malformed request) with `message`.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::BAD_REQUEST, kind: "Validation", message: message.into(), dialect: Dialect::Tei }
    }

    /// A 413 (a request limit) with `message`.
    pub fn too_large(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            kind: "Validation",
            message: message.into(),
            dialect: Dialect::Tei,
        }
    }

    /// Switches to the given error shape.
    pub fn in_dialect(mut self, d: Dialect) -> ApiError {
        self.dialect = d;
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match self.dialect {
            Dialect::Tei => serde_json::json!({ "error": self.message, "error_type": self.kind }),
            Dialect::OpenAi => {
                let kind = if self.status.is_client_error() { "invalid_request_error" } else { "server_error" };
                serde_json::json!({ "error": { "message": self.message, "type": kind, "param": null, "code": self.kind } })
            }
        };
        let mut r = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::TOO_MANY_REQUESTS || self.status == StatusCode::SERVICE_UNAVAILABLE {
            r.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
        }
        r
    }
}

/// One text or several, as both APIs accept.
#[derive(Deserialize, Debug, Clone)]
#[serde(untagged)]
pub enum Inputs {
    /// `"text"`.
    One(String),
    /// `["a", "b"]`.
    Many(Vec<String>),
}

impl Inputs {
    /// The texts, checked against `limits` (empty list, empty text, too many, too long).
    pub fn texts(self, limits: &Limits, field: &str) -> Result<Vec<String>, ApiError> {
        let v = match self {
            Inputs::One(s) => vec![s],
            Inputs::Many(v) => v,
        };
        if v.is_empty() {
            return Err(ApiError::bad_request(format!("`{field}` is an empty list: send at least one text")));
        }
        if v.len() > limits.max_texts {
            return Err(ApiError::too_large(format!(
                "`{field}` has {} texts; the limit is {} texts per request (--max-client-batch)",
                v.len(),
                limits.max_texts
            )));
        }
        for (i, t) in v.iter().enumerate() {
            check_text(t, limits, &format!("`{field}`[{i}]"))?;
        }
        Ok(v)
    }
}

/// One text against the limits: not blank (400), at most `max_text_chars` characters (413).
/// `name` is how the message calls it (e.g. `` `inputs`[2] ``).
pub fn check_text(t: &str, limits: &Limits, name: &str) -> Result<(), ApiError> {
    if t.trim().is_empty() {
        return Err(ApiError::bad_request(format!("{name} is empty")));
    }
    let chars = t.chars().count();
    if chars > limits.max_text_chars {
        return Err(ApiError::too_large(format!(
            "{name} has {chars} characters; the limit is {} characters per text (--max-text-chars)",
            limits.max_text_chars
        )));
    }
    Ok(())
}

/// TEI `POST /embed`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct EmbedRequest {
    /// The texts.
    pub inputs: Inputs,
    /// Unit-length vectors (default true, as TEI).
    #[serde(default = "yes")]
    pub normalize: bool,
    /// Cut texts longer than the model's maximum instead of refusing them (default false, as TEI).
    #[serde(default)]
    pub truncate: bool,
    /// Accepted for compatibility; only `Right` truncation is implemented.
    #[serde(default)]
    pub truncation_direction: Option<String>,
    /// A prompt of the sentence-transformers model (`config_sentence_transformers.json`)
    /// put before each text; absent: the model's default prompt, if any.
    #[serde(default)]
    pub prompt_name: Option<String>,
    /// Matryoshka: keep the first this-many values (after the model's modules, before
    /// `normalize`), as sentence-transformers' `truncate_dim`; `dimensions` is accepted too.
    #[serde(default, alias = "dimensions")]
    pub truncate_dim: Option<usize>,
}

fn yes() -> bool {
    true
}

/// OpenAI `POST /v1/embeddings`.
#[derive(Deserialize, Debug)]
pub struct OpenAiRequest {
    /// The texts (token-id inputs are refused with a message).
    pub input: serde_json::Value,
    /// Echoed back; any value is accepted (the server runs one model).
    #[serde(default)]
    pub model: Option<String>,
    /// `"float"` (default) or `"base64"`.
    #[serde(default)]
    pub encoding_format: Option<String>,
    /// Matryoshka: the first this-many values, renormalized (1 to the model's full width).
    #[serde(default)]
    pub dimensions: Option<usize>,
    /// Accepted and ignored.
    #[serde(default)]
    pub user: Option<String>,
}

/// `POST /fill-mask`: `{"inputs": "The capital of France is [MASK].", "top_k": 5}`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct FillMaskRequest {
    /// Texts with at least one `[MASK]` each.
    pub inputs: Inputs,
    /// Candidates per mask (1..=100, default 5).
    #[serde(default = "five")]
    pub top_k: usize,
    /// Cut texts longer than the model's maximum instead of refusing them.
    #[serde(default)]
    pub truncate: bool,
}

fn five() -> usize {
    5
}

/// TEI `POST /rerank`: `{"query": "...", "texts": ["a", "b"], "raw_scores": false,
/// "return_text": false, "truncate": false}` -> `[{"index", "score", "text"?}]`, best first.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RerankRequest {
    /// The query every text is scored against.
    pub query: String,
    /// The documents to rank.
    pub texts: Vec<String>,
    /// Cut (query, text) pairs longer than the model's maximum (longest first) instead of
    /// refusing them.
    #[serde(default)]
    pub truncate: bool,
    /// The raw logit instead of the cross-encoder's activation (sigmoid by default).
    #[serde(default)]
    pub raw_scores: bool,
    /// Echo each text in its answer.
    #[serde(default)]
    pub return_text: bool,
    /// Accepted for compatibility; only `Right` truncation is implemented.
    #[serde(default)]
    pub truncation_direction: Option<String>,
}

/// One entry of the `/rerank` answer.
#[derive(serde::Serialize, Debug, Clone, PartialEq)]
pub struct Rank {
    /// Position of the text in the request's `texts`.
    pub index: usize,
    /// The text, when `return_text`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Relevance (sigmoid of the logit, or the logit with `raw_scores`).
    pub score: f32,
}

/// TEI `POST /predict`: `{"inputs": ..., "raw_scores": false, "truncate": false}` with
/// `inputs` one of `"text"`, `["text"]`, `["text", "text pair"]` (one input), or
/// `[["text"], ["text", "text pair"], ...]` (a batch). See [`predict_inputs`].
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct PredictRequest {
    /// The input(s), read by [`predict_inputs`].
    pub inputs: serde_json::Value,
    /// Cut inputs longer than the model's maximum (longest first) instead of refusing them.
    #[serde(default)]
    pub truncate: bool,
    /// Raw logits instead of probabilities.
    #[serde(default)]
    pub raw_scores: bool,
    /// Accepted for compatibility; only `Right` truncation is implemented.
    #[serde(default)]
    pub truncation_direction: Option<String>,
}

/// One label of a `/predict` answer.
#[derive(serde::Serialize, Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Probability (or logit with `raw_scores`).
    pub score: f32,
    /// `id2label` name.
    pub label: String,
}

/// A text, or a text and its pair (`[CLS] a [SEP] b [SEP]`).
pub type TextInput = (String, Option<String>);

/// Reads TEI's `/predict` `inputs` as it does: a string is one text; a list of strings is
/// one input (one string: a text, two: a pair — so `["a", "b"]` is a *pair*, not two texts);
/// a list of lists is a batch, each `[text]` or `[text, pair]`. Returns whether it was a batch
/// (the answer is then a list per input) and the inputs, checked against `limits`.
pub fn predict_inputs(v: serde_json::Value, limits: &Limits) -> Result<(bool, Vec<TextInput>), ApiError> {
    const SHAPE: &str = r#""text", ["text", "text pair"] or a batch [["text"], ["text", "text pair"], ...]"#;
    fn one(items: Vec<serde_json::Value>, name: &str, limits: &Limits) -> Result<TextInput, ApiError> {
        let n = items.len();
        let mut texts = Vec::with_capacity(2);
        for (k, item) in items.into_iter().enumerate() {
            let serde_json::Value::String(t) = item else {
                return Err(ApiError::bad_request(format!("{name}[{k}] must be a string, not {}", json_kind(&item))));
            };
            check_text(&t, limits, &format!("{name}[{k}]"))?;
            texts.push(t);
        }
        match (n, texts.pop(), texts.pop()) {
            (1, Some(a), None) => Ok((a, None)),
            (2, Some(b), Some(a)) => Ok((a, Some(b))),
            _ => Err(ApiError::bad_request(format!(
                "{name} has {n} strings: an input is [\"text\"] or a pair [\"text\", \"text pair\"]"
            ))),
        }
    }
    match v {
        serde_json::Value::String(t) => {
            check_text(&t, limits, "`inputs`")?;
            Ok((false, vec![(t, None)]))
        }
        serde_json::Value::Array(items) if items.is_empty() => {
            Err(ApiError::bad_request("`inputs` is an empty list: send at least one text"))
        }
        serde_json::Value::Array(items) if items[0].is_string() => {
            if items.len() > 2 {
                return Err(ApiError::bad_request(format!(
                    "`inputs` is a list of {} strings: a list of strings is one input (a text or a pair); \
                     for several texts send [[\"a\"], [\"b\"], ...]",
                    items.len()
                )));
            }
            Ok((false, vec![one(items, "`inputs`", limits)?]))
        }
        serde_json::Value::Array(items) => {
            if items.len() > limits.max_texts {
                return Err(ApiError::too_large(format!(
                    "`inputs` has {} inputs; the limit is {} per request (--max-client-batch)",
                    items.len(),
                    limits.max_texts
                )));
            }
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                let name = format!("`inputs`[{i}]");
                let serde_json::Value::Array(inner) = item else {
                    return Err(ApiError::bad_request(format!(
                        "{name} is {}: a batch is a list of lists [[\"text\"], [\"text\", \"text pair\"], ...]",
                        json_kind(&item)
                    )));
                };
                out.push(one(inner, &name, limits)?);
            }
            Ok((true, out))
        }
        other => Err(ApiError::bad_request(format!("`inputs` must be {SHAPE}, not {}", json_kind(&other)))),
    }
}

/// Parses a JSON body into `T`, turning serde's error into a 400 that names the problem.
pub fn parse<T: serde::de::DeserializeOwned>(body: &[u8], shape: &str) -> Result<T, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request(format!("empty body: expected JSON like {shape}")));
    }
    serde_json::from_slice(body).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => "malformed JSON",
            serde_json::error::Category::Data => "unexpected JSON content",
            serde_json::error::Category::Io => "unreadable body",
        };
        ApiError::bad_request(format!("{what}: {e}; expected {shape}"))
    })
}

/// The OpenAI `input` field as texts: a string or a list of strings (token ids are refused).
pub fn openai_texts(input: serde_json::Value, limits: &Limits) -> Result<Vec<String>, ApiError> {
    let inputs = match input {
        serde_json::Value::String(s) => Inputs::One(s),
        serde_json::Value::Array(items) if items.iter().all(|v| v.is_string()) => Inputs::Many(
            items.into_iter().map(|v| if let serde_json::Value::String(s) = v { s } else { String::new() }).collect(),
        ),
        serde_json::Value::Array(_) => {
            return Err(ApiError::bad_request(
                "`input` must be a string or a list of strings (token-id inputs are not supported)",
            ));
        }
        other => {
            return Err(ApiError::bad_request(format!(
                "`input` must be a string or a list of strings, not {}",
                json_kind(&other)
            )));
        }
    };
    inputs.texts(limits, "input")
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Little-endian f32 bytes in standard base64, as OpenAI's `encoding_format: "base64"`.
pub fn base64_f32(v: &[f32]) -> String {
    use base64::Engine as _;
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_name_themselves() {
        let l = Limits { max_body_bytes: 100, max_texts: 2, max_text_chars: 5 };
        let e = Inputs::Many(vec!["a".into(); 3]).texts(&l, "inputs").unwrap_err();
        assert_eq!(e.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(e.message.contains("limit is 2 texts"), "{}", e.message);
        let e = Inputs::One("abcdef".into()).texts(&l, "inputs").unwrap_err();
        assert!(e.message.contains("6 characters") && e.message.contains("5 characters"), "{}", e.message);
        let e = Inputs::Many(vec![]).texts(&l, "inputs").unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        let e = Inputs::One("  ".into()).texts(&l, "inputs").unwrap_err();
        assert!(e.message.contains("empty"), "{}", e.message);
        assert_eq!(Inputs::One("hé".into()).texts(&l, "inputs").unwrap(), vec!["hé".to_string()]);
    }

    #[test]
    fn malformed_bodies_say_what_is_wrong() {
        let e = parse::<EmbedRequest>(b"{\"inputs\": ", "{}").unwrap_err();
        assert!(e.message.starts_with("malformed JSON"), "{}", e.message);
        let e = parse::<EmbedRequest>(b"{\"inputs\": 3}", "{}").unwrap_err();
        assert!(e.message.starts_with("unexpected JSON content"), "{}", e.message);
        let e = parse::<EmbedRequest>(b"", "{}").unwrap_err();
        assert!(e.message.contains("empty body"), "{}", e.message);
        let r = parse::<EmbedRequest>(b"{\"inputs\": [\"a\"], \"truncate\": true}", "{}").unwrap();
        assert!(r.normalize && r.truncate);
    }

    #[test]
    fn openai_inputs() {
        let l = Limits::default();
        assert_eq!(openai_texts(serde_json::json!("a"), &l).unwrap(), vec!["a"]);
        assert_eq!(openai_texts(serde_json::json!(["a", "b"]), &l).unwrap(), vec!["a", "b"]);
        assert!(openai_texts(serde_json::json!([1, 2]), &l).unwrap_err().message.contains("token-id"));
        assert!(openai_texts(serde_json::json!(7), &l).unwrap_err().message.contains("a number"));
    }

    #[test]
    fn predict_inputs_follow_tei() {
        let l = Limits { max_body_bytes: 100, max_texts: 2, max_text_chars: 5 };
        let p = |v: serde_json::Value| predict_inputs(v, &l);
        let pair = |a: &str, b: &str| (a.to_string(), Some(b.to_string()));
        assert_eq!(p(serde_json::json!("a")).unwrap(), (false, vec![("a".into(), None)]));
        assert_eq!(p(serde_json::json!(["a"])).unwrap(), (false, vec![("a".into(), None)]));
        assert_eq!(p(serde_json::json!(["a", "b"])).unwrap(), (false, vec![pair("a", "b")]), "a pair, as TEI");
        assert_eq!(
            p(serde_json::json!([["a"], ["b", "c"]])).unwrap(),
            (true, vec![("a".into(), None), pair("b", "c")])
        );
        let msg = |v: serde_json::Value| p(v).unwrap_err().message;
        assert!(msg(serde_json::json!(["a", "b", "c"])).contains("one input"));
        assert!(msg(serde_json::json!([])).contains("empty list"));
        assert!(msg(serde_json::json!([["a", "b", "c"]])).contains("`inputs`[0] has 3 strings"));
        assert!(msg(serde_json::json!([["a"], "b"])).contains("`inputs`[1] is a string"));
        assert!(msg(serde_json::json!([[1]])).contains("`inputs`[0][0] must be a string"));
        assert!(msg(serde_json::json!(["a", 2])).contains("`inputs`[1] must be a string"));
        assert!(msg(serde_json::json!({"a": 1})).contains("an object"));
        assert!(msg(serde_json::json!([["a"], ["b"], ["c"]])).contains("limit is 2"));
        assert!(msg(serde_json::json!([["a"], ["abcdef"]])).contains("`inputs`[1][0] has 6 characters"));
        assert!(msg(serde_json::json!(["a", " "])).contains("`inputs`[1] is empty"));
    }

    #[test]
    fn base64_matches_the_little_endian_bytes() {
        // 1.0f32 = 00 00 80 3f; base64 of those four bytes is "AACAPw==".
        assert_eq!(base64_f32(&[1.0]), "AACAPw==");
    }
}

/// TEI `POST /embed_all`: every token's vector.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct EmbedAllRequest {
    /// The texts.
    pub inputs: Inputs,
    /// Cut texts longer than the model's maximum instead of refusing them.
    #[serde(default)]
    pub truncate: bool,
    /// Accepted for compatibility; only `Right` truncation is implemented.
    #[serde(default)]
    pub truncation_direction: Option<String>,
    /// A prompt of the sentence-transformers model put before each text.
    #[serde(default)]
    pub prompt_name: Option<String>,
}

/// TEI `POST /tokenize`: `{"inputs": "text" | ["a", "b"], "add_special_tokens": true}`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct TokenizeRequest {
    /// The texts.
    pub inputs: Inputs,
    /// Include `[CLS]`/`[SEP]` (default true, as TEI).
    #[serde(default = "yes")]
    pub add_special_tokens: bool,
    /// A prompt of the sentence-transformers model put before each text.
    #[serde(default)]
    pub prompt_name: Option<String>,
}

/// TEI `POST /decode`: `{"ids": [101, 7592, 102] | [[...], [...]], "skip_special_tokens": true}`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct DecodeRequest {
    /// One list of ids, or several.
    pub ids: serde_json::Value,
    /// Leave `[CLS]`, `[SEP]`, `[PAD]` ... out (default true, as TEI).
    #[serde(default = "yes")]
    pub skip_special_tokens: bool,
}
