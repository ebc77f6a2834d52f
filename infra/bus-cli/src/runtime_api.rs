//! The Lambda Runtime API, served to a function's real binary on the host.
//!
//! The binary runs its own `main` with `lambda_runtime`, exactly as in Lambda: it asks
//! `GET /2018-06-01/runtime/invocation/next` for work and posts a response or an error. This
//! server hands it the invocations that [`RuntimeApi::invoke`] queues.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot, Mutex};

/// How an invocation ended.
#[derive(Debug)]
pub enum Outcome {
    /// The function returned this JSON.
    Response(Bytes),
    /// The function reported an error (the handler returned `Err` or panicked).
    Error(Bytes),
    /// No answer within the function's timeout.
    Timeout,
    /// The function's process went away before answering.
    Crashed,
}

struct Invocation {
    request_id: String,
    body: String,
    deadline: SystemTime,
    reply: oneshot::Sender<Outcome>,
}

struct Shared {
    queue: Mutex<mpsc::Receiver<Invocation>>,
    pending: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    function_arn: String,
}

/// A Runtime API endpoint for one function.
#[derive(Clone)]
pub struct RuntimeApi {
    sender: mpsc::Sender<Invocation>,
    shared: Arc<Shared>,
    pub addr: SocketAddr,
}

impl RuntimeApi {
    /// Starts the server on an ephemeral loopback port.
    pub async fn start(function_arn: String) -> std::io::Result<Self> {
        let (sender, receiver) = mpsc::channel(1);
        let shared = Arc::new(Shared {
            queue: Mutex::new(receiver),
            pending: Mutex::new(HashMap::new()),
            function_arn,
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "runtime API server stopped");
            }
        });
        Ok(Self {
            sender,
            shared,
            addr,
        })
    }

    /// Hands `body` to the function and waits for its answer, at most `timeout`.
    pub async fn invoke(&self, body: String, timeout: Duration) -> Outcome {
        let (reply, answer) = oneshot::channel();
        let invocation = Invocation {
            request_id: uuid::Uuid::new_v4().to_string(),
            body,
            deadline: SystemTime::now() + timeout,
            reply,
        };
        if self.sender.send(invocation).await.is_err() {
            return Outcome::Crashed;
        }
        match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Outcome::Crashed,
            Err(_) => Outcome::Timeout,
        }
    }

    /// Fails every invocation in flight: its process is gone.
    pub async fn abandon_in_flight(&self) {
        for (_, reply) in self.shared.pending.lock().await.drain() {
            let _ = reply.send(Outcome::Crashed);
        }
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let invocation = {
        let mut queue = shared.queue.lock().await;
        match queue.recv().await {
            Some(i) => i,
            None => return (StatusCode::GONE, HeaderMap::new(), String::new()),
        }
    };
    let deadline_ms = invocation
        .deadline
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    set(
        "lambda-runtime-aws-request-id",
        invocation.request_id.clone(),
    );
    set("lambda-runtime-deadline-ms", deadline_ms.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        shared.function_arn.clone(),
    );
    set("content-type", "application/json".into());
    shared
        .pending
        .lock()
        .await
        .insert(invocation.request_id, invocation.reply);
    (StatusCode::OK, headers, invocation.body)
}

async fn finish(shared: &Shared, id: &str, outcome: Outcome) -> StatusCode {
    match shared.pending.lock().await.remove(id) {
        Some(reply) => {
            let _ = reply.send(outcome);
            StatusCode::ACCEPTED
        }
        None => StatusCode::NOT_FOUND,
    }
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    finish(&shared, &id, Outcome::Response(body)).await
}

async fn error(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    finish(&shared, &id, Outcome::Error(body)).await
}

async fn init_error(body: Bytes) -> StatusCode {
    tracing::error!(error = %String::from_utf8_lossy(&body), "function failed to initialise");
    StatusCode::ACCEPTED
}
