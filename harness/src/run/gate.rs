//! The load gate: a load (or a bulk write) waits for its slots, in the class's gate
//! (one process) and then in the machine's, so that loads of graders running side by
//! side (a class, the shards of a batch on one machine, tests) do not share the cores
//! and blur each other's latency. The wait is not counted against the check's timeout.
//!
//! The machine's gate is `LOAD_SLOTS` files in the temporary folder, each held with an
//! exclusive `flock` while a load runs: a light load takes any one, a heavy load (or a
//! bulk write) all of them, in order, so two heavy loads never hold one each. Where the
//! files cannot be opened, the machine's gate is left out (the class's still holds).

use std::fs::{File, OpenOptions, TryLockError};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::loadgen::LOAD_SLOTS;

/// How often a waiting load tries the machine's slots again.
const POLL: Duration = Duration::from_millis(25);

/// Slots held in both gates; dropping it gives them back.
pub(super) struct Held {
    _class: Option<OwnedSemaphorePermit>,
    _machine: Vec<File>,
}

/// Takes `slots` of the class's gate (if any) and then of the machine's, counting the
/// wait as a pause of the check's clock.
pub(super) async fn take(class: Option<&Arc<Semaphore>>, slots: u32, paused: &Paused) -> Held {
    let _pause = paused.pause();
    let class = match class {
        Some(gate) => gate
            .clone()
            .acquire_many_owned(slots.min(LOAD_SLOTS))
            .await
            .ok(),
        None => None,
    };
    let machine = machine(&folder(), slots).await;
    Held {
        _class: class,
        _machine: machine,
    }
}

/// The folder of the machine's slot files.
fn folder() -> PathBuf {
    std::env::temp_dir().join("grader-load-gate")
}

/// Holds `slots` of the machine's gate in `dir` (all of them when `slots >=
/// LOAD_SLOTS`).
async fn machine(dir: &std::path::Path, slots: u32) -> Vec<File> {
    if std::fs::create_dir_all(dir).is_err() {
        return Vec::new();
    }
    #[cfg(unix)]
    {
        // Graders of every user of the machine share its cores, and so its gate.
        use std::os::unix::fs::PermissionsExt as _;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o1777));
    }
    let mut files = Vec::new();
    for k in 0..LOAD_SLOTS {
        let open = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(format!("slot-{k}")));
        match open {
            Ok(f) => files.push(f),
            Err(_) => return Vec::new(),
        }
    }
    if slots >= LOAD_SLOTS {
        let mut held = Vec::new();
        for f in files {
            loop {
                match f.try_lock() {
                    Ok(()) => break,
                    Err(TryLockError::WouldBlock) => tokio::time::sleep(POLL).await,
                    Err(TryLockError::Error(_)) => return Vec::new(),
                }
            }
            held.push(f);
        }
        return held;
    }
    loop {
        let mut got = None;
        for (k, f) in files.iter().enumerate() {
            match f.try_lock() {
                Ok(()) => {
                    got = Some(k);
                    break;
                }
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(_)) => return Vec::new(),
            }
        }
        if let Some(k) = got {
            return vec![files.swap_remove(k)];
        }
        tokio::time::sleep(POLL).await;
    }
}

/// A check's clock that stops while its steps wait at the gate.
#[derive(Clone, Default)]
pub(super) struct Paused(Arc<Mutex<PauseState>>);

#[derive(Default)]
struct PauseState {
    total: Duration,
    since: Option<Instant>,
}

/// A pause that lasts until it is dropped.
pub(super) struct Pause(Paused);

impl Paused {
    pub(super) fn pause(&self) -> Pause {
        if let Ok(mut s) = self.0.lock() {
            s.since.get_or_insert_with(Instant::now);
        }
        Pause(self.clone())
    }

    /// The time since `start` that was not paused.
    pub(super) fn running_since(&self, start: Instant) -> Duration {
        let now = Instant::now();
        let paused = self.0.lock().map_or(Duration::ZERO, |s| {
            s.total + s.since.map_or(Duration::ZERO, |t| now - t)
        });
        (now - start).saturating_sub(paused)
    }

    pub(super) fn reset(&self) {
        if let Ok(mut s) = self.0.lock() {
            *s = PauseState::default();
        }
    }
}

impl Drop for Pause {
    fn drop(&mut self) {
        if let Ok(mut s) = (self.0).0.lock()
            && let Some(t) = s.since.take()
        {
            s.total += t.elapsed();
        }
    }
}

/// Runs `steps` until it ends or has run `timeout` of unpaused time (none: it did not
/// end in time).
pub(super) async fn within<F: std::future::Future>(
    timeout: Duration,
    paused: &Paused,
    steps: F,
) -> Option<F::Output> {
    let start = Instant::now();
    tokio::pin!(steps);
    loop {
        let left = timeout.saturating_sub(paused.running_since(start));
        if left.is_zero() {
            return None;
        }
        tokio::select! {
            out = &mut steps => return Some(out),
            () = tokio::time::sleep(left) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_wait_at_the_gate_does_not_count_against_the_timeout() {
        let paused = Paused::default();
        let p = paused.clone();
        // 300 ms of steps, 250 of them waiting at the gate, within a 200 ms timeout.
        let steps = async move {
            {
                let _pause = p.pause();
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            7
        };
        assert_eq!(
            within(Duration::from_millis(200), &paused, steps).await,
            Some(7)
        );
        // Without the pause the same steps run out of time.
        paused.reset();
        let steps = tokio::time::sleep(Duration::from_millis(300));
        assert_eq!(
            within(Duration::from_millis(200), &paused, steps).await,
            None
        );
    }

    #[tokio::test]
    async fn the_machine_gate_lets_two_light_loads_in_and_a_heavy_one_alone() {
        // A gate of its own: the machine's is shared with whatever else runs here.
        let dir = std::env::temp_dir().join(format!("grader-gate-test-{}", std::process::id()));
        let a = machine(&dir, 1).await;
        let b = machine(&dir, 1).await;
        assert_eq!(a.len() + b.len(), 2, "two light loads at once");
        let d = dir.clone();
        let heavy = tokio::spawn(async move { machine(&d, LOAD_SLOTS).await.len() });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            !heavy.is_finished(),
            "a heavy load waits while light ones run"
        );
        drop(a);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!heavy.is_finished(), "it waits for every slot");
        drop(b);
        assert_eq!(heavy.await.unwrap(), LOAD_SLOTS as usize);
        // Held by another process's open file as well: flock is per open file.
        let c = machine(&dir, LOAD_SLOTS).await;
        let light = tokio::spawn({
            let d = dir.clone();
            async move { machine(&d, 1).await.len() }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            !light.is_finished(),
            "a light load waits while a heavy one runs"
        );
        drop(c);
        assert_eq!(light.await.unwrap(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
