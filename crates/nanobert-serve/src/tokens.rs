//! # `POST /tokenize`, `POST /decode`, `POST /embed_all`: tokens in and out
//!
//! What a client needs to chunk a long text itself (count and cut by tokens, then turn the
//! pieces back into text) and to get token-level vectors (late interaction, span pooling), in
//! the shapes of Hugging Face's text-embeddings-inference:
//!
//! - `/tokenize` `{"inputs", "add_special_tokens": true}` -> per text
//!   `[{"id", "text", "special", "start", "stop"}]`: `text` is the piece of the input the token
//!   covers (the token string for `[CLS]`/`[SEP]`), `start`/`stop` its *character* offsets
//!   (`null` for special tokens). Texts longer than the model's maximum are tokenized whole:
//!   that is what chunking needs.
//! - `/decode` `{"ids": [..] | [[..], ..], "skip_special_tokens": true}` -> a string per list
//!   (one string for one list); an id outside the vocabulary is a 400.
//! - `/embed_all` `{"inputs", "truncate"}` -> per text, every token's last hidden state
//!   (`[tokens][hidden]`, `[CLS]` and `[SEP]` included), through the same queue and batcher as
//!   `/embed`.

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use tokio::sync::oneshot;

use super::AppState;
use super::api::{self, ApiError, DecodeRequest, Dialect, EmbedAllRequest, TokenizeRequest};
use super::batcher::{Output, Task};
use super::routes::{Body, St, body_bytes, counted, internal, singles, submit, tokenize};

/// Runs `f` on the tokenizer pool (never on the I/O threads or the compute pool).
async fn on_tokenizer_pool<T: Send + 'static>(
    s: &Arc<AppState>,
    f: impl FnOnce(&AppState) -> T + Send + 'static,
) -> Result<T, ApiError> {
    let (tx, rx) = oneshot::channel();
    let st = s.clone();
    s.tokenizer_pool.spawn(move || {
        let _ = tx.send(f(&st));
    });
    rx.await.map_err(|_| internal("the tokenizer thread stopped"))
}

fn only_right(direction: &Option<String>) -> Result<(), ApiError> {
    match direction {
        Some(d) if !d.eq_ignore_ascii_case("right") => {
            Err(ApiError::bad_request(format!("`truncation_direction` {d:?}: only \"Right\" is supported")))
        }
        _ => Ok(()),
    }
}

/// `POST /embed_all`.
pub(super) async fn embed_all(axum::extract::State(s): St, body: Body) -> Response {
    let r = embed_all_inner(&s, body).await;
    counted(&s, "/embed_all", r, Dialect::Tei)
}

async fn embed_all_inner(s: &Arc<AppState>, body: Body) -> Result<Response, ApiError> {
    s.embeds("/embed_all")?;
    let body = body_bytes(s, body)?;
    let req: EmbedAllRequest = api::parse(&body, r#"{"inputs": "text" | ["a", "b"], "truncate": false}"#)?;
    only_right(&req.truncation_direction)?;
    let texts = req.inputs.texts(&s.info_limits(), "inputs")?;
    let (texts, _) = s.with_prompt(texts, req.prompt_name.as_deref())?;
    let seqs = tokenize(s, singles(texts), req.truncate, "inputs").await?;
    match submit(s, seqs, Task::EmbedAll).await? {
        (Output::Tokens(v), _) => Ok(axum::Json(v).into_response()),
        _ => Err(internal("wrong output kind")),
    }
}

/// One token of a `/tokenize` answer.
#[derive(serde::Serialize, Debug, Clone, PartialEq)]
pub struct Token {
    /// Vocabulary id.
    pub id: u32,
    /// The piece of the input it covers (the token itself for special tokens).
    pub text: String,
    /// `[CLS]`, `[SEP]` ...
    pub special: bool,
    /// First character of `text` in the input (`None` for special tokens).
    pub start: Option<usize>,
    /// One past its last character.
    pub stop: Option<usize>,
}

/// `POST /tokenize`.
pub(super) async fn tokenize_endpoint(axum::extract::State(s): St, body: Body) -> Response {
    let r = tokenize_inner(&s, body).await;
    counted(&s, "/tokenize", r, Dialect::Tei)
}

async fn tokenize_inner(s: &Arc<AppState>, body: Body) -> Result<Response, ApiError> {
    let body = body_bytes(s, body)?;
    let req: TokenizeRequest = api::parse(&body, r#"{"inputs": "text" | ["a", "b"], "add_special_tokens": true}"#)?;
    let texts = req.inputs.texts(&s.info_limits(), "inputs")?;
    let (texts, _) = s.with_prompt(texts, req.prompt_name.as_deref())?;
    let special = req.add_special_tokens;
    let out = on_tokenizer_pool(s, move |st| {
        texts
            .iter()
            .map(|t| {
                let e = st.tokenizer.encode_with_offsets(t, None)?;
                let chars: Vec<char> = t.chars().collect();
                Ok(e.ids
                    .iter()
                    .zip(&e.tokens)
                    .zip(e.offsets.iter().zip(&e.special))
                    .filter(|(_, (_, sp))| special || !**sp)
                    .map(|((&id, tok), (&(a, b), &sp))| Token {
                        id,
                        text: if sp {
                            tok.clone()
                        } else {
                            chars[a.min(chars.len())..b.min(chars.len())].iter().collect()
                        },
                        special: sp,
                        start: (!sp).then_some(a),
                        stop: (!sp).then_some(b),
                    })
                    .collect::<Vec<Token>>())
            })
            .collect::<nanobert::Result<Vec<Vec<Token>>>>()
    })
    .await?
    .map_err(|e| ApiError::bad_request(format!("cannot tokenize: {e}")))?;
    Ok(axum::Json(out).into_response())
}

/// The `ids` of a `/decode` request: one list (`false`) or several (`true`), each checked
/// against the vocabulary size and the per-request limits.
pub fn decode_ids(v: serde_json::Value, vocab: usize, max_lists: usize) -> Result<(bool, Vec<Vec<u32>>), ApiError> {
    const SHAPE: &str = "a list of token ids [101, 7592, 102] or a list of such lists";
    let list = |v: &serde_json::Value, name: &str| -> Result<Vec<u32>, ApiError> {
        let serde_json::Value::Array(items) = v else {
            return Err(ApiError::bad_request(format!("{name} must be {SHAPE}")));
        };
        items
            .iter()
            .enumerate()
            .map(|(k, x)| match x.as_u64() {
                Some(id) if (id as usize) < vocab => Ok(id as u32),
                Some(id) => Err(ApiError::bad_request(format!(
                    "{name}[{k}] = {id} is not in the vocabulary (ids are 0 to {})",
                    vocab - 1
                ))),
                None => {
                    Err(ApiError::bad_request(format!("{name}[{k}] must be a token id (an integer >= 0), not {x}")))
                }
            })
            .collect()
    };
    match &v {
        serde_json::Value::Array(items) if items.first().is_some_and(|x| x.is_array()) => {
            if items.len() > max_lists {
                return Err(ApiError::too_large(format!(
                    "`ids` has {} lists; the limit is {max_lists} per request (--max-client-batch)",
                    items.len()
                )));
            }
            let lists: Result<Vec<Vec<u32>>, ApiError> =
                items.iter().enumerate().map(|(i, x)| list(x, &format!("`ids`[{i}]"))).collect();
            Ok((true, lists?))
        }
        serde_json::Value::Array(_) => Ok((false, vec![list(&v, "`ids`")?])),
        _ => Err(ApiError::bad_request(format!("`ids` must be {SHAPE}"))),
    }
}

/// `POST /decode`.
pub(super) async fn decode(axum::extract::State(s): St, body: Body) -> Response {
    let r = decode_inner(&s, body).await;
    counted(&s, "/decode", r, Dialect::Tei)
}

async fn decode_inner(s: &Arc<AppState>, body: Body) -> Result<Response, ApiError> {
    let body = body_bytes(s, body)?;
    let req: DecodeRequest = api::parse(&body, r#"{"ids": [101, 7592, 102], "skip_special_tokens": true}"#)?;
    let (batch, lists) = decode_ids(req.ids, s.tokenizer.vocab_size(), s.info.max_client_batch_size)?;
    let skip = req.skip_special_tokens;
    let texts = on_tokenizer_pool(s, move |st| {
        lists
            .iter()
            .map(|ids| {
                if skip {
                    st.tokenizer.decode(ids)
                } else {
                    let toks: Vec<String> =
                        ids.iter().map(|&i| st.tokenizer.id_to_token(i).unwrap_or_default()).collect();
                    st.tokenizer.decode_tokens(&toks)
                }
            })
            .collect::<nanobert::Result<Vec<String>>>()
    })
    .await?
    .map_err(|e| ApiError::bad_request(format!("cannot decode: {e}")))?;
    if batch {
        Ok(axum::Json(texts).into_response())
    } else {
        Ok(axum::Json(texts.into_iter().next().unwrap_or_default()).into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_ids_take_one_list_or_several_and_check_the_vocabulary() {
        use serde_json::json;
        assert_eq!(decode_ids(json!([1, 2]), 10, 4).unwrap(), (false, vec![vec![1, 2]]));
        assert_eq!(decode_ids(json!([[1], [2, 3]]), 10, 4).unwrap(), (true, vec![vec![1], vec![2, 3]]));
        assert_eq!(decode_ids(json!([]), 10, 4).unwrap(), (false, vec![vec![]]));
        let msg = |v| decode_ids(v, 10, 2).unwrap_err().message;
        assert!(msg(json!([10])).contains("not in the vocabulary (ids are 0 to 9)"));
        assert!(msg(json!([-1])).contains("`ids`[0] must be a token id"));
        assert!(msg(json!([1.5])).contains("must be a token id"));
        assert!(msg(json!("abc")).contains("must be a list"));
        assert!(msg(json!([[1], 2])).contains("`ids`[1] must be"));
        assert!(msg(json!([[1], [2], [3]])).contains("limit is 2"));
    }
}
