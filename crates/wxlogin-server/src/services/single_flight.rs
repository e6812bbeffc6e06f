//! In-process single flight for code exchanges: concurrent requests carrying one code on
//! this instance share one run. Correctness across instances comes from the store's
//! code claims; this only saves the other requests on this instance from polling the
//! store, and makes them share a failure as well as a success.
//!
//! The run is a spawned task, so it finishes (and settles its claim in the store) even
//! when every client that asked for it has gone away.
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use futures::future::{BoxFuture, FutureExt, Shared};

use crate::error::ApiError;
use crate::storage::User;

use super::login::LoginKind;

pub(crate) type FlightResult = Result<(User, LoginKind), ApiError>;
type Flight = Shared<BoxFuture<'static, FlightResult>>;

#[derive(Default)]
pub(crate) struct LoginFlights {
    flights: Arc<Mutex<HashMap<String, Flight>>>,
}

impl LoginFlights {
    /// Run `work` under `key`, or join the run already under way for `key`.
    pub(crate) async fn run<F>(&self, key: &str, work: F) -> FlightResult
    where
        F: Future<Output = FlightResult> + Send + 'static,
    {
        let flight = {
            let mut flights = self
                .flights
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match flights.get(key) {
                Some(flight) => flight.clone(),
                None => {
                    let registry = Arc::clone(&self.flights);
                    let owned_key = key.to_owned();
                    let task = tokio::spawn(async move {
                        let result = work.await;
                        registry
                            .lock()
                            .unwrap_or_else(|poisoned| poisoned.into_inner())
                            .remove(&owned_key);
                        result
                    });
                    let flight = async move {
                        task.await
                            .unwrap_or_else(|join_error| Err(ApiError::internal(&join_error)))
                    }
                    .boxed()
                    .shared();
                    flights.insert(key.to_owned(), flight.clone());
                    flight
                }
            }
        };
        flight.await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn concurrent_runs_of_one_key_share_one_execution() {
        let flights = Arc::new(LoginFlights::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let mut handles = Vec::new();
        for _ in 0..8 {
            let flights = Arc::clone(&flights);
            let runs = Arc::clone(&runs);
            handles.push(tokio::spawn(async move {
                flights
                    .run("code", async move {
                        runs.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        Err(ApiError::invalid_request("shared"))
                    })
                    .await
            }));
        }
        for handle in handles {
            assert_eq!(handle.await.unwrap().unwrap_err().message, "shared");
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(flights.flights.lock().unwrap().is_empty());
    }
}
