//! In-process single flight: concurrent callers with one key share one run of the work and
//! its result, failure included. The login uses it for code exchanges (see
//! `services::login`): correctness across instances comes from the store's code claims;
//! this only saves the other requests on this instance from polling the store, and makes
//! them share a failure as well as a success.
//!
//! The run is a spawned task, so it finishes (and, for a login, settles its claim in the
//! store) even when every caller that asked for it has gone away.
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use futures::future::{BoxFuture, FutureExt, Shared};

/// The run's task ended without a result (it panicked or the runtime is shutting down).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a shared run ended without a result: {0}")]
pub struct FlightLost(pub String);

type Flight<T> = Shared<BoxFuture<'static, Result<T, FlightLost>>>;

/// Runs keyed by `String`, each result of type `T` handed to every caller of its run.
pub struct SingleFlight<T: Clone> {
    flights: Arc<Mutex<HashMap<String, Flight<T>>>>,
}

impl<T: Clone> Default for SingleFlight<T> {
    fn default() -> Self {
        SingleFlight {
            flights: Arc::default(),
        }
    }
}

impl<T: Clone + Send + Sync + 'static> SingleFlight<T> {
    /// Run `work` under `key`, or join the run already under way for `key`.
    pub async fn run<F>(&self, key: &str, work: F) -> Result<T, FlightLost>
    where
        F: Future<Output = T> + Send + 'static,
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
                            .map_err(|join_error| FlightLost(join_error.to_string()))
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
        let flights = Arc::new(SingleFlight::<Result<(), String>>::default());
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
                        Err("shared".to_owned())
                    })
                    .await
            }));
        }
        for handle in handles {
            assert_eq!(handle.await.unwrap().unwrap().unwrap_err(), "shared");
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(flights.flights.lock().unwrap().is_empty());
    }
}
