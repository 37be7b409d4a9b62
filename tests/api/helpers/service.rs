//! [`TestService`]: the whole service started in-process on port 0, stopped
//! when it goes out of scope, so a failing test never leaves one running.

use std::ops::Deref;
use std::time::Duration;

use entity_service::validation::NewEntity;
use entity_service::{Config, Running, Service, StartError};

use super::wait::wait_until;

/// REST worker threads of a test service: enough for the tests' concurrency,
/// far fewer than the default of 8 per core.
const HTTP_THREADS: u16 = 8;

/// A started service that stops on drop. Derefs to [`Running`] for
/// `http_addr`, `grpc_addr`, `store()`, `metrics_text()` and `begin_stop()`.
pub struct TestService {
    /// Always `Some` until a stop or the drop takes it.
    running: Option<Running>,
}

impl TestService {
    /// The test defaults: `Config::ephemeral()`, gRPC backend, 8 HTTP threads.
    pub fn start() -> Self {
        Self::start_with(|_| {})
    }

    /// The test defaults adjusted by `tweak`; a start failure fails the test.
    #[track_caller]
    pub fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        Self::try_start_with(tweak).unwrap_or_else(|error| panic!("service starts: {error}"))
    }

    /// The test defaults adjusted by `tweak`, or why the service cannot start.
    pub fn try_start_with(tweak: impl FnOnce(&mut Config)) -> Result<Self, StartError> {
        let _ = env_logger::builder().is_test(true).try_init();
        let mut config = Config::ephemeral();
        config.http_threads = Some(HTTP_THREADS);
        tweak(&mut config);
        Service::start(&config).map(|running| Self {
            running: Some(running),
        })
    }

    /// Graceful stop, waiting for it: for tests whose subject is stopping.
    pub fn stop(mut self) {
        self.take().stop();
    }

    /// Stops the service, failing the test if that does not return within
    /// `limit` (a hang bound; the stop then goes on in a leaked thread).
    #[track_caller]
    pub fn stop_within(mut self, limit: Duration, what: &str) {
        let running = self.take();
        let stopper = std::thread::spawn(move || running.stop());
        wait_until(limit, || stopper.is_finished());
        assert!(
            stopper.is_finished(),
            "{what}: Running::stop did not return within {limit:?}"
        );
        stopper.join().expect("stop does not panic");
    }

    /// Stores an entity straight into the store (fast setup); its id.
    #[track_caller]
    pub fn seed(&self, name: &str, description: &str) -> i64 {
        let new = NewEntity::validate(name.into(), description.into())
            .unwrap_or_else(|error| panic!("seed {name:?} is invalid: {error}"));
        self.store().create(new).id
    }

    fn take(&mut self) -> Running {
        self.running.take().expect("the service is running")
    }
}

impl Deref for TestService {
    type Target = Running;

    fn deref(&self) -> &Running {
        self.running.as_ref().expect("the service is running")
    }
}

impl Drop for TestService {
    fn drop(&mut self) {
        let Some(running) = self.running.take() else {
            return;
        };
        if std::thread::panicking() {
            // The test already failed: report that now, let the stop finish
            // on its own rather than risk hanging the failure report.
            std::thread::spawn(move || running.stop());
        } else {
            running.stop();
        }
    }
}
