//! The thread that talks to AWS: it owns a tokio current-thread runtime and runs one job at a
//! time, sent over a channel.
//!
//! The [`iotscope_account::AccountSource`] trait is sync because the reporter is; the proxy
//! calls the reporter from inside its own tokio runtime, where a nested `block_on` would panic.
//! A separate thread with its own runtime answers from anywhere: the caller only waits on a
//! std channel.

use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use crate::client::{self, AwsOptions, Clients};

/// One unit of work: given the clients, a future that sends its own answer.
type Job = Box<dyn FnOnce(Clients) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// How long one question (a listing and a call per item) may take in all before the caller
/// stops waiting. The SDK's own time-outs end each call well before.
pub const QUESTION_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a question got no answer from the worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WorkerError {
    /// The worker did not answer within [`QUESTION_TIMEOUT`].
    TimedOut,
    /// The worker is gone (its runtime could not start, or it panicked).
    Gone(String),
}

/// The handle to the thread.
pub struct Worker {
    jobs: mpsc::Sender<Job>,
    /// Why the thread could not start its runtime, if it could not.
    start_error: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

impl Worker {
    /// Starts the thread. Nothing is loaded and no call is made until the first job: the
    /// configuration (profile files, region, credential chain) is read then.
    pub fn start(options: AwsOptions) -> std::io::Result<Worker> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let start_error = std::sync::Arc::new(std::sync::Mutex::new(None));
        let report = start_error.clone();
        thread::Builder::new()
            .name("iotscope-aws".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        *report.lock().unwrap_or_else(|p| p.into_inner()) =
                            Some(format!("could not start the AWS client's runtime: {e}"));
                        return;
                    }
                };
                let mut clients: Option<Clients> = None;
                // Ends when the source is dropped (the sender goes away).
                while let Ok(job) = queue.recv() {
                    let c = match &clients {
                        Some(c) => c.clone(),
                        None => {
                            let config = runtime.block_on(client::load_config(&options));
                            let c = client::clients(&config);
                            clients = Some(c.clone());
                            c
                        }
                    };
                    runtime.block_on(job(c));
                }
            })?;
        Ok(Worker { jobs, start_error })
    }

    /// Runs `question` on the worker and waits for its answer.
    pub fn ask<T, F, Fut>(&self, question: F) -> Result<T, WorkerError>
    where
        T: Send + 'static,
        F: FnOnce(Clients) -> Fut + Send + 'static,
        Fut: Future<Output = T> + Send + 'static,
    {
        let (answer, reply) = mpsc::sync_channel::<T>(1);
        let job: Job = Box::new(move |clients| {
            Box::pin(async move {
                let out = tokio::time::timeout(QUESTION_TIMEOUT, question(clients)).await;
                if let Ok(value) = out {
                    // The caller may have stopped waiting; nothing to do then.
                    let _ = answer.send(value);
                }
            })
        });
        if self.jobs.send(job).is_err() {
            return Err(self.gone());
        }
        match reply.recv_timeout(QUESTION_TIMEOUT + Duration::from_secs(5)) {
            Ok(value) => Ok(value),
            Err(mpsc::RecvTimeoutError::Timeout) => Err(WorkerError::TimedOut),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // The job was dropped unanswered: the question's own time-out, or the thread
                // ended.
                match self
                    .start_error
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone()
                {
                    Some(e) => Err(WorkerError::Gone(e)),
                    None => Err(WorkerError::TimedOut),
                }
            }
        }
    }

    fn gone(&self) -> WorkerError {
        WorkerError::Gone(
            self.start_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
                .unwrap_or_else(|| "the AWS client's thread ended".into()),
        )
    }
}
