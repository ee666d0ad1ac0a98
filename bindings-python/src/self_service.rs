//! `KeyApi`: the core's self-service key API, for `keyhouse.fastapi.key_router`.

use std::sync::Arc;

use keyhouse::self_service::{self, OwnedRequest, Policy};
use pyo3::prelude::*;

use crate::errors::IntoPyResult;
use crate::store::Keyhouse;

/// The HTTP answer: status, headers, JSON body, and the event as JSON (if any).
type Answer = (u16, Vec<(&'static str, String)>, String, Option<String>);

/// The owner-scoped key API over one store, with the app's policy (JSON,
/// camelCase names). A framework's router passes each request to `handle`.
#[pyclass(frozen, module = "keyhouse._native", name = "KeyApi")]
pub struct KeyApi {
    kh: Arc<keyhouse::Keyhouse>,
    api: self_service::KeyApi,
}

#[pymethods]
impl KeyApi {
    /// Checks the policy; INVALID_ARGUMENT if it is inconsistent.
    #[new]
    fn new(py: Python<'_>, keyhouse: &Keyhouse, policy: &str) -> PyResult<Self> {
        let kh = keyhouse.shared();
        let api = Policy::from_json(policy).and_then(|p| self_service::KeyApi::new(p, &kh)).py_err(py)?;
        Ok(KeyApi { kh, api })
    }

    /// The largest body the policy accepts; read one byte more at most.
    #[getter]
    fn max_body_bytes(&self) -> usize {
        self.api.policy().max_body_bytes
    }

    /// Answers one request, with the GIL released while the store works.
    #[pyo3(signature = (owner, method, path, query, content_type, body))]
    // One argument per part of the request, as the core's `Request` has them.
    #[allow(clippy::too_many_arguments)]
    fn handle(
        &self,
        py: Python<'_>,
        owner: Option<String>,
        method: String,
        path: String,
        query: String,
        content_type: Option<String>,
        body: Vec<u8>,
    ) -> Answer {
        let request = OwnedRequest { owner, method, path, query, content_type, body };
        py.detach(|| {
            let response = self.api.handle(&self.kh, &request.as_request());
            (response.status, response.headers, response.body, response.event.map(|e| e.to_json()))
        })
    }
}
