//! `KeyApi`: the core's self-service key API, for `keyhouse/express`'s `keyRouter`.

use std::collections::HashMap;
use std::sync::Arc;

use keyhouse::self_service::{self, OwnedRequest, Policy};
use napi::bindgen_prelude::*;
use napi::Env;
use napi_derive::napi;

use crate::errors::IntoJsResult;
use crate::store::Keyhouse;

/// One HTTP answer of the key API.
#[napi(object)]
pub struct KeyApiAnswer {
    /// The HTTP status.
    pub status: u32,
    /// Headers to set.
    pub headers: HashMap<String, String>,
    /// The JSON body; empty for 204.
    pub body: String,
    /// What changed, as JSON (`type`, `ownerId`, `keyId`, `newKeyId`, `at`), if anything did.
    pub event: Option<String>,
}

/// One request, answered on the libuv thread pool.
pub struct HandleTask {
    kh: Arc<keyhouse::Keyhouse>,
    api: Arc<self_service::KeyApi>,
    request: OwnedRequest,
}

impl Task for HandleTask {
    type Output = self_service::Response;
    type JsValue = KeyApiAnswer;

    fn compute(&mut self) -> Result<Self::Output> {
        Ok(self.api.handle(&self.kh, &self.request.as_request()))
    }

    fn resolve(&mut self, _env: Env, r: Self::Output) -> Result<Self::JsValue> {
        Ok(KeyApiAnswer {
            status: u32::from(r.status),
            headers: r.headers.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            body: r.body,
            event: r.event.map(|e| e.to_json()),
        })
    }
}

/// The owner-scoped key API over one store, with the app's policy (JSON).
/// `keyRouter` passes each request to `handle`; another framework's glue can too.
#[napi]
pub struct KeyApi {
    kh: Arc<keyhouse::Keyhouse>,
    api: Arc<self_service::KeyApi>,
}

#[napi]
impl KeyApi {
    /// Checks the policy; a `KeyhouseError` (INVALID_ARGUMENT) if it is inconsistent.
    #[napi(constructor)]
    pub fn new(env: Env, keyhouse: &Keyhouse, policy: String) -> Result<Self> {
        let kh = keyhouse.shared();
        let api = Policy::from_json(&policy).and_then(|p| self_service::KeyApi::new(p, &kh)).js(&env)?;
        Ok(KeyApi { kh, api: Arc::new(api) })
    }

    /// The largest body the policy accepts; read one byte more at most.
    #[napi(getter)]
    pub fn max_body_bytes(&self) -> u32 {
        u32::try_from(self.api.policy().max_body_bytes).unwrap_or(u32::MAX)
    }

    /// Answers one request (`path` below the mount point, `query` without `?`).
    #[napi(ts_return_type = "Promise<KeyApiAnswer>")]
    pub fn handle(
        &self,
        owner: Option<String>,
        method: String,
        path: String,
        query: String,
        content_type: Option<String>,
        body: Buffer,
    ) -> AsyncTask<HandleTask> {
        AsyncTask::new(HandleTask {
            kh: self.kh.clone(),
            api: self.api.clone(),
            request: OwnedRequest { owner, method, path, query, content_type, body: body.to_vec() },
        })
    }
}
