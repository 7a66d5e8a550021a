//! The server as one axum application: the state every handler shares ([`AppState`]), the
//! router that joins the phones' API (`crate::http`) and the dashboard with its admin API
//! (`crate::web`) under one set of layers, and [`serve`]. `http` and `web` are siblings that
//! know nothing of each other's routes; this is the only module that names both.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::{Extension, Router};
use tower_http::compression::CompressionLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use fieldvisit_core::clock::Clock;

use crate::dictionary::Dictionaries;
use crate::http::ApiState;
use crate::storage::Storage;
use crate::sync::batch::GroupCommitter;
use crate::web::{WebConfig, WebState};

/// What the application shares: the storage, the clock, the group-commit writer, the
/// compression dictionaries and the dashboard's settings.
#[derive(Clone)]
pub struct AppState {
    pub storage: Arc<dyn Storage>,
    pub clock: Arc<dyn Clock>,
    committer: GroupCommitter,
    dictionaries: Arc<Dictionaries>,
    /// The dashboard's settings (`crate::web`).
    pub web: WebConfig,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("storage", &self.storage.describe())
            .finish()
    }
}

impl AppState {
    /// The state for a server on `storage`; starts the group-commit writer thread.
    pub fn new(storage: Arc<dyn Storage>, clock: Arc<dyn Clock>) -> std::io::Result<AppState> {
        let committer = GroupCommitter::start(storage.clone())?;
        Ok(AppState {
            storage,
            clock,
            committer,
            dictionaries: Arc::default(),
            web: WebConfig::default(),
        })
    }

    /// The same state with other dashboard settings.
    pub fn with_web(mut self, web: WebConfig) -> AppState {
        self.web = web;
        self
    }

    /// What the phones' API handlers see.
    fn api(&self) -> ApiState {
        ApiState {
            storage: self.storage.clone(),
            clock: self.clock.clone(),
            committer: self.committer.clone(),
            dictionaries: self.dictionaries.clone(),
        }
    }

    /// What the dashboard's handlers see.
    fn dashboard(&self) -> WebState {
        WebState {
            storage: self.storage.clone(),
            clock: self.clock.clone(),
            web: self.web,
        }
    }
}

/// Every route of the server: the phones' API and the dashboard, compressed, bounded in time
/// and traced alike; and the OpenAPI document of their `/v1` routes, served by
/// `crate::http::openapi::serve`.
pub fn router(state: AppState) -> Router {
    let (api, web, doc) = assemble();
    // Serializing a document of plain maps and strings cannot fail; if it ever did, the
    // document's route would answer 500 rather than the server refuse to start.
    let served = doc
        .and_then(|doc| crate::http::openapi::Served::new(&doc))
        .ok();
    let router = Router::new()
        .merge(api.with_state(state.api()))
        .merge(web.with_state(state.dashboard()));
    let router = match served {
        Some(served) => router.layer(Extension(served)),
        None => router,
    };
    router
        .layer(CompressionLayer::new().gzip(true).zstd(true))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(60),
        ))
        .layer(TraceLayer::new_for_http())
}

/// The OpenAPI document `GET /v1/openapi.json` serves: the head (`crate::http::openapi`)
/// with the descriptions of the phones' routes and of the admin API's.
pub fn openapi() -> serde_json::Result<serde_json::Value> {
    assemble().2
}

/// The two route sets and the document made from both.
fn assemble() -> (
    Router<ApiState>,
    Router<WebState>,
    serde_json::Result<serde_json::Value>,
) {
    let (api, api_doc) = crate::http::routes().split_for_parts();
    let (web, web_doc) = crate::web::routes().split_for_parts();
    let mut doc = crate::http::openapi::base();
    doc.merge(api_doc);
    doc.merge(web_doc);
    (api, web, crate::http::openapi::finish(doc))
}

/// Serves on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use serde_json::Value;

    use crate::report::Report;

    fn document() -> Value {
        super::openapi().unwrap()
    }

    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];

    /// Every operation of `doc` as (path, method, operation).
    fn operations(doc: &Value) -> Vec<(&str, &str, &Value)> {
        let mut found = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                assert!(METHODS.contains(&method.as_str()), "{path}: {method}");
                found.push((path.as_str(), method.as_str(), op));
            }
        }
        found
    }

    fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r);
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn the_document_is_valid_openapi_3_1() {
        let doc = document();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."));
        assert!(!doc["info"]["title"].as_str().unwrap().is_empty());
        assert_eq!(doc["info"]["version"], "1");
        // It reads back as an OpenAPI document.
        serde_json::from_value::<utoipa::openapi::OpenApi>(doc.clone()).unwrap();

        let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
        let mut ids = BTreeSet::new();
        for (path, method, op) in operations(&doc) {
            let what = format!("{method} {path}");
            let id = op["operationId"].as_str().unwrap();
            assert!(ids.insert(id.to_string()), "{what}: operationId {id} twice");
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.contains_key("200"), "{what}");
            for status in responses.keys() {
                let code: u16 = status.parse().unwrap();
                assert!((100..600).contains(&code), "{what}: {status}");
            }
            // Path parameters: exactly the template's, each required.
            let template: BTreeSet<&str> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let mut declared = BTreeSet::new();
            for p in &params {
                let place = p["in"].as_str().unwrap();
                assert!(
                    ["path", "query", "header", "cookie"].contains(&place),
                    "{what}"
                );
                assert!(p["schema"].is_object(), "{what}: {p}");
                if place == "path" {
                    assert_eq!(p["required"], true, "{what}: {p}");
                    declared.insert(p["name"].as_str().unwrap().to_string());
                }
            }
            let template: BTreeSet<String> = template.into_iter().map(String::from).collect();
            assert_eq!(template, declared, "{what}");
            if let Some(body) = op.get("requestBody") {
                assert!(!body["content"].as_object().unwrap().is_empty(), "{what}");
            }
            for requirement in op["security"].as_array().into_iter().flatten() {
                for scheme in requirement.as_object().unwrap().keys() {
                    assert!(schemes.contains_key(scheme), "{what}: scheme {scheme}");
                }
            }
        }
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(all.len() > 50, "{} references", all.len());
        for r in all {
            let pointer = r.strip_prefix('#').unwrap();
            assert!(doc.pointer(pointer).is_some(), "{r} resolves");
        }
    }

    #[test]
    fn the_phones_and_the_admins_authenticate_as_before() {
        let doc = document();
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(schemes["bearer"]["type"], "http");
        assert_eq!(schemes["bearer"]["scheme"], "bearer");
        assert_eq!(schemes["adminSession"]["type"], "apiKey");
        assert_eq!(schemes["adminSession"]["in"], "cookie");
        assert_eq!(
            schemes["adminSession"]["name"],
            crate::web::auth::SESSION_COOKIE
        );
        let security = |path: &str, method: &str| doc["paths"][path][method]["security"].clone();
        for (path, method) in [
            ("/v1/sync", "post"),
            ("/v1/dictionaries/{id}", "get"),
            ("/v1/photos/{sha256}", "get"),
            ("/v1/photos/{sha256}/chunks/{index}", "put"),
        ] {
            assert_eq!(security(path, method), serde_json::json!([{"bearer": []}]));
        }
        assert_eq!(
            security("/v1/admin/reports/{name}", "get"),
            serde_json::json!([{"adminSession": []}])
        );
        for (path, method) in [
            ("/v1/enroll", "post"),
            ("/v1/health", "get"),
            ("/v1/openapi.json", "get"),
        ] {
            assert!(security(path, method).is_null(), "{path} is open");
        }
    }

    #[test]
    fn the_report_names_are_the_report_enum() {
        let doc = document();
        let params = doc["paths"]["/v1/admin/reports/{name}"]["get"]["parameters"]
            .as_array()
            .unwrap();
        let name = params.iter().find(|p| p["name"] == "name").unwrap();
        assert_eq!(name["in"], "path");
        assert_eq!(name["schema"]["enum"], serde_json::json!(Report::names()));
        let format = params.iter().find(|p| p["name"] == "format").unwrap();
        assert_eq!(
            format["schema"]["enum"],
            serde_json::json!(["csv", "json", "xlsx"])
        );
    }

    #[test]
    fn refused_answers_name_the_codes_of_their_status() {
        let doc = document();
        let chunk = &doc["paths"]["/v1/photos/{sha256}/chunks/{index}"]["put"]["responses"];
        assert_eq!(chunk["422"]["$ref"], "#/components/responses/Error");
        assert!(
            chunk["422"]["description"]
                .as_str()
                .unwrap()
                .ends_with(": photo_hash_mismatch")
        );
        let sync = &doc["paths"]["/v1/sync"]["post"]["responses"];
        let text = sync["400"]["description"].as_str().unwrap();
        assert!(text.contains("bad_request") && text.contains("unsupported_protocol"));
        let codes = doc["components"]["schemas"]["ErrorCode"]["enum"]
            .as_array()
            .unwrap();
        assert_eq!(codes.len(), 16);
    }

    #[test]
    fn unsigned_integers_are_bounded_both_ways() {
        let doc = document();
        let sync = &doc["components"]["schemas"]["SyncRequest"]["properties"];
        assert_eq!(sync["page_bytes"]["minimum"], 0);
        assert_eq!(sync["page_bytes"]["maximum"], u32::MAX);
        assert_eq!(sync["cursor"]["maximum"], u64::MAX);
        let id = &doc["paths"]["/v1/dictionaries/{id}"]["get"]["parameters"][0]["schema"];
        assert_eq!(
            (id["minimum"].clone(), id["maximum"].clone()),
            (1.into(), u32::MAX.into())
        );
    }

    /// Every route under `/v1` is registered with `utoipa_axum::routes!` from a handler that
    /// carries its description, so the document lists every route the router serves: a route
    /// added under `/v1` any other way (a plain `route` call) fails here.
    #[test]
    fn every_v1_route_is_registered_with_its_description() {
        fn walk(dir: &Path, found: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, found);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for call in [".route(", ".route_service(", ".nest(", ".nest_service("] {
                        for (at, _) in text.match_indices(call) {
                            let rest = text[at + call.len()..].trim_start();
                            let Some(literal) = rest.strip_prefix('"') else {
                                continue;
                            };
                            let literal = literal.split('"').next().unwrap_or_default();
                            if literal.starts_with("/v1") {
                                found.push(format!("{}: {call}\"{literal}\"", path.display()));
                            }
                        }
                    }
                }
            }
        }
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut found = Vec::new();
        walk(&src, &mut found);
        assert!(
            found.is_empty(),
            "routes under /v1 without a description (register them with routes!): {found:#?}"
        );
        // And the document has the routes the server has always had, and its own.
        let doc = document();
        let paths: BTreeSet<&str> = doc["paths"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for path in [
            "/v1/enroll",
            "/v1/sync",
            "/v1/dictionaries/{id}",
            "/v1/photos/{sha256}",
            "/v1/photos/{sha256}/chunks/{index}",
            "/v1/health",
            "/v1/openapi.json",
            "/v1/admin/reports/{name}",
        ] {
            assert!(paths.contains(path), "{path} is documented");
        }
        assert!(paths.iter().all(|p| p.starts_with("/v1/")), "{paths:?}");
    }
}
