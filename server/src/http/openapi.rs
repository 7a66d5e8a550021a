//! The OpenAPI document of `/v1`, generated from the code that serves it and served at
//! `GET /v1/openapi.json`. Every route under `/v1` is registered with `utoipa_axum::routes!`
//! from a handler annotated with `#[utoipa::path]`, so a route and its description are one
//! declaration; bodies are described by the protocol's own types (`fieldvisit_core::protocol`,
//! whose `utoipa::ToSchema` derives come with core's `openapi` feature), the admin API's
//! parameters by `crate::web::api`, the report names by `crate::report::Report`.
//!
//! This module holds what no single route owns: the document's head ([`base`]): its title,
//! the phones' way of authenticating ([`BEARER`]; the admin API brings its own, the session
//! cookie, with its routes) and the refused-call answer ([`Refused`]); the finishing pass
//! ([`finish`]) that names, on each refused answer, the error codes its status carries (from
//! the one mapping, [`super::error::status`]) and bounds unsigned integers; and the handler
//! that serves the finished document. `crate::app` merges the routes' documents into it.

use axum::Extension;
use axum::body::Bytes;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use utoipa::openapi::Required;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::{Response as ResponseObject, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr};
use utoipa::{PartialSchema, ToResponse, ToSchema};

use fieldvisit_core::protocol::{ErrorBody, ErrorCode, MAX_REQUEST_BYTES};

/// The security scheme of the phones' calls: `Authorization: Bearer <token>` from enrollment.
pub const BEARER: &str = "bearer";

/// The document's head, before the routes' paths are merged in.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "fieldvisit sync API",
        version = "1",
        description = "Phones push signed journal operations and pull their feed \
            (docs/protocol.md); admins fetch supervision reports with a dashboard session \
            (docs/supervision.md). Generated from the server's code: the routes' handlers and \
            the protocol's types.",
    ),
    components(schemas(ErrorBody, ErrorCode), responses(Refused)),
    modifiers(&Security)
)]
struct Head;

/// The head: info, security schemes, the error body and the refused-call response.
pub fn base() -> OpenApi {
    <Head as utoipa::OpenApi>::openapi()
}

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The token POST /v1/enroll answered; the server keeps only its hash.",
                    ))
                    .build(),
            ),
        );
    }
}

/// A refused call: every 4xx (and 5xx) answer, with the [`ErrorBody`] the one error mapping
/// (`super::error`) writes. Routes name it for each status they can answer with; [`finish`]
/// lists the codes of that status on each.
#[derive(Debug)]
pub struct Refused;

impl<'r> ToResponse<'r> for Refused {
    fn response() -> (&'r str, RefOr<ResponseObject>) {
        let response = ResponseBuilder::new()
            .description("A refused call: the error code says why, the message says it in words")
            .content(
                "application/json",
                Content::new(Some(RefOr::Ref(Ref::from_schema_name(ErrorBody::name())))),
            )
            .build();
        ("Error", RefOr::T(response))
    }
}

/// Raw bytes (a dictionary, a photo's chunk, an xlsx file).
#[derive(Debug)]
pub struct Binary;

impl PartialSchema for Binary {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::Custom("binary".into())))
            .into()
    }
}

impl ToSchema for Binary {}

/// How a request body may be compressed (`fieldvisit_core::sync::codec::decode`): zstd with or
/// without one of the server's dictionaries (the frame header names it), gzip, or not at all.
#[derive(Debug)]
pub struct ContentEncoding;

impl PartialSchema for ContentEncoding {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(["identity", "gzip", "zstd"]))
            .into()
    }
}

impl ToSchema for ContentEncoding {}

/// The header of a JSON request body that may be compressed ([`ContentEncoding`]).
#[derive(Debug)]
pub struct CompressedBody;

impl utoipa::IntoParams for CompressedBody {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            ParameterBuilder::new()
                .name("Content-Encoding")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(format!(
                    "How the body is compressed: zstd (with one of the server's dictionaries or \
                     none), gzip, or not at all. At most {MAX_REQUEST_BYTES} bytes either way."
                )))
                .schema(Some(ContentEncoding::schema()))
                .build(),
        ]
    }
}

/// A photo's name in paths: its SHA-256 in hex.
#[derive(Debug)]
pub struct Sha256;

impl PartialSchema for Sha256 {
    fn schema() -> RefOr<Schema> {
        fieldvisit_core::openapi::sha256()
    }
}

impl ToSchema for Sha256 {}

/// The one value `GET /v1/health`'s `status` takes.
pub(crate) fn ok() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["ok"]))
        .into()
}

/// The finished document, as JSON: on every refused answer, the error codes its status
/// carries; on every unsigned integer, its largest value (utoipa writes only the smallest).
pub fn finish(doc: OpenApi) -> serde_json::Result<Value> {
    let mut doc = serde_json::to_value(doc)?;
    let refused = Ref::from_response_name(Refused::response().0).ref_location;
    let codes = error_codes();
    let operations = doc
        .get_mut("paths")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut());
    for op in operations {
        let responses = op.get_mut("responses").and_then(Value::as_object_mut);
        for (status, response) in responses.into_iter().flatten() {
            if response.get("$ref").and_then(Value::as_str) != Some(refused.as_str()) {
                continue;
            }
            let names: Vec<&str> = codes
                .iter()
                .filter(|(_, s)| s.to_string() == *status)
                .map(|(name, _)| name.as_str())
                .collect();
            response["description"] =
                format!("Refused; the codes of this status: {}", names.join(", ")).into();
        }
    }
    bound_unsigned(&mut doc);
    Ok(doc)
}

/// Every error code's name with the status it is answered with, in the enum's order (the
/// derived schema lists every variant).
fn error_codes() -> Vec<(String, u16)> {
    let schema = serde_json::to_value(ErrorCode::schema()).unwrap_or_default();
    let names = schema["enum"].as_array().cloned().unwrap_or_default();
    names
        .into_iter()
        .filter_map(|name| {
            let code = serde_json::from_value::<ErrorCode>(name.clone()).ok()?;
            Some((
                name.as_str()?.to_string(),
                super::error::status(code).as_u16(),
            ))
        })
        .collect()
}

/// Adds `maximum` to every integer schema of an unsigned type (utoipa's `non_strict_integers`
/// formats, which it spells `u-int32`; written here as the usual `uint32`).
fn bound_unsigned(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let unsigned = match map.get("format").and_then(Value::as_str) {
                Some("u-int8") => Some(("uint8", u64::from(u8::MAX))),
                Some("u-int16") => Some(("uint16", u64::from(u16::MAX))),
                Some("u-int32") => Some(("uint32", u64::from(u32::MAX))),
                Some("u-int64") => Some(("uint64", u64::MAX)),
                _ => None,
            };
            let integer = match map.get("type") {
                Some(Value::String(t)) => t == "integer",
                Some(Value::Array(types)) => types.iter().any(|t| t == "integer"),
                _ => false,
            };
            if let Some((format, max)) = unsigned.filter(|_| integer) {
                map.insert("format".into(), format.into());
                map.entry("maximum").or_insert(max.into());
            }
            map.values_mut().for_each(bound_unsigned);
        }
        Value::Array(items) => items.iter_mut().for_each(bound_unsigned),
        _ => {}
    }
}

/// The finished document as the handler serves it, serialized once.
#[derive(Debug, Clone)]
pub struct Served(Bytes);

impl Served {
    pub fn new(doc: &Value) -> serde_json::Result<Served> {
        Ok(Served(Bytes::from(serde_json::to_vec_pretty(doc)?)))
    }
}

impl PartialSchema for Served {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some("An OpenAPI 3.1 document"))
            .into()
    }
}

impl ToSchema for Served {}

/// This document.
///
/// Every route under `/v1`, generated from the server's code.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    operation_id = "openapi",
    responses((status = 200, description = "This document", body = inline(Served))),
)]
pub(crate) async fn serve(Extension(doc): Extension<Served>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], doc.0).into_response()
}
