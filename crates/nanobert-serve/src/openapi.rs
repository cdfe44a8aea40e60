//! # `GET /openapi.json`: the API described in OpenAPI 3.1
//!
//! Written by hand beside the request types of [`api`](super::api) (each schema lists the same
//! fields; `tests/serve.rs` checks every served endpoint is described and every described
//! request field is accepted). Only the endpoints this checkpoint serves are listed.

use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::routes::St;

fn texts() -> Value {
    json!({ "oneOf": [{ "type": "string" }, { "type": "array", "items": { "type": "string" } }] })
}

fn error() -> Value {
    json!({ "description": "error", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } })
}

fn post(summary: &str, request: Value, answer: Value) -> Value {
    json!({ "post": {
        "summary": summary,
        "requestBody": { "required": true, "content": { "application/json": { "schema": request } } },
        "responses": {
            "200": { "description": "OK", "content": { "application/json": { "schema": answer } } },
            "400": error(), "401": error(), "408": error(), "413": error(), "429": error(), "503": error()
        }
    } })
}

fn get(summary: &str, content: &str) -> Value {
    json!({ "get": { "summary": summary, "responses": {
        "200": { "description": "OK", "content": { content: {} } }, "503": { "description": "not ready / not alive" }
    } } })
}

fn object(props: Value, required: &[&str]) -> Value {
    json!({ "type": "object", "properties": props, "required": required, "additionalProperties": false })
}

/// The description of every endpoint in `endpoints`.
pub fn document(endpoints: &[&str], model_id: &str, version: &str) -> Value {
    let floats = json!({ "type": "array", "items": { "type": "number" } });
    let matrix = json!({ "type": "array", "items": floats });
    let mut paths = serde_json::Map::new();
    for &e in endpoints {
        let p = match e {
            "/embed" => post(
                "Sentence embeddings (text-embeddings-inference shape)",
                object(
                    json!({ "inputs": texts(), "normalize": { "type": "boolean", "default": true },
                        "truncate": { "type": "boolean", "default": false },
                        "truncation_direction": { "type": "string", "enum": ["Right"] },
                        "prompt_name": { "type": "string" },
                        "truncate_dim": { "type": "integer", "minimum": 1 } }),
                    &["inputs"],
                ),
                matrix.clone(),
            ),
            "/v1/embeddings" => post(
                "Sentence embeddings (OpenAI shape)",
                json!({ "type": "object", "required": ["input"], "properties": {
                    "input": texts(), "model": { "type": "string" },
                    "encoding_format": { "type": "string", "enum": ["float", "base64"] },
                    "dimensions": { "type": "integer", "minimum": 1 }, "user": { "type": "string" } } }),
                json!({ "type": "object" }),
            ),
            "/embed_all" => post(
                "Every token's vector",
                object(
                    json!({ "inputs": texts(), "truncate": { "type": "boolean", "default": false },
                        "truncation_direction": { "type": "string", "enum": ["Right"] },
                        "prompt_name": { "type": "string" } }),
                    &["inputs"],
                ),
                json!({ "type": "array", "items": matrix }),
            ),
            "/fill-mask" => post(
                "Candidates for each [MASK]",
                object(
                    json!({ "inputs": texts(), "top_k": { "type": "integer", "minimum": 1, "maximum": 100, "default": 5 },
                        "truncate": { "type": "boolean", "default": false } }),
                    &["inputs"],
                ),
                json!({ "type": "array" }),
            ),
            "/rerank" => post(
                "Rank texts for a query with the cross-encoder",
                object(
                    json!({ "query": { "type": "string" }, "texts": { "type": "array", "items": { "type": "string" } },
                        "truncate": { "type": "boolean" }, "raw_scores": { "type": "boolean" },
                        "return_text": { "type": "boolean" },
                        "truncation_direction": { "type": "string", "enum": ["Right"] } }),
                    &["query", "texts"],
                ),
                json!({ "type": "array" }),
            ),
            "/predict" => post(
                "Classify a text, a pair, or a batch of them",
                object(
                    json!({ "inputs": {}, "truncate": { "type": "boolean" }, "raw_scores": { "type": "boolean" },
                        "truncation_direction": { "type": "string", "enum": ["Right"] } }),
                    &["inputs"],
                ),
                json!({ "type": "array" }),
            ),
            "/tokenize" => post(
                "Tokens with their character offsets",
                object(
                    json!({ "inputs": texts(), "add_special_tokens": { "type": "boolean", "default": true },
                        "prompt_name": { "type": "string" } }),
                    &["inputs"],
                ),
                json!({ "type": "array", "items": { "type": "array", "items": { "$ref": "#/components/schemas/Token" } } }),
            ),
            "/decode" => post(
                "Token ids back to text",
                object(
                    json!({ "ids": { "oneOf": [
                            { "type": "array", "items": { "type": "integer", "minimum": 0 } },
                            { "type": "array", "items": { "type": "array", "items": { "type": "integer", "minimum": 0 } } }] },
                        "skip_special_tokens": { "type": "boolean", "default": true } }),
                    &["ids"],
                ),
                json!({ "oneOf": [{ "type": "string" }, { "type": "array", "items": { "type": "string" } }] }),
            ),
            "/health" => get("Liveness: 200 while the server can serve", "text/plain"),
            "/ready" => get("Readiness: 503 while loading or draining", "text/plain"),
            "/info" => get("The model and the server's settings", "application/json"),
            "/metrics" => get("Prometheus counters", "text/plain"),
            "/openapi.json" => get("This document", "application/json"),
            _ => continue,
        };
        paths.insert(e.to_string(), p);
    }
    json!({
        "openapi": "3.1.0",
        "info": { "title": format!("nanobert serve ({model_id})"), "version": version },
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Error": { "type": "object", "properties": { "error": {}, "error_type": { "type": "string" } } },
                "Token": { "type": "object", "properties": {
                    "id": { "type": "integer" }, "text": { "type": "string" }, "special": { "type": "boolean" },
                    "start": { "type": ["integer", "null"] }, "stop": { "type": ["integer", "null"] } } }
            }
        },
        "security": [{ "bearer": [] }]
    })
}

/// `GET /openapi.json`.
pub(super) async fn openapi(axum::extract::State(s): St) -> Response {
    s.metrics.count("/openapi.json", 200);
    axum::Json(document(&s.info.endpoints, &s.info.model_id, s.info.version)).into_response()
}
