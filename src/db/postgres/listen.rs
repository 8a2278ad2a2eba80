//! Waking workers when jobs are queued: `NOTIFY bevara_jobs` on every new
//! job (and every job put back), `LISTEN bevara_jobs` while a worker waits.
//!
//! Notifications are a hint, never the record: one sent while the
//! listener's connection is down is lost, so workers still poll, and a
//! listener that fails is dropped and made again at the next wait.

use super::q;
use crate::db::DbError;
use futures::FutureExt;
use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};
use std::time::Duration;

/// The channel new jobs are announced on.
const JOBS_CHANNEL: &str = "bevara_jobs";

/// Announces new work, delivered when the transaction commits. The payload
/// is empty, so the announcements of one transaction fold into one.
pub(super) async fn notify(conn: &mut PgConnection) -> Result<(), DbError> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(JOBS_CHANNEL)
        .execute(conn)
        .await
        .map_err(q("announce job"))?;
    Ok(())
}

/// A `LISTEN` connection, made at the first wait.
#[derive(Debug, Default)]
pub(super) struct JobListener(tokio::sync::Mutex<Option<PgListener>>);

impl JobListener {
    /// Returns on an announcement, when the listener's connection was lost
    /// (announcements may have been missed: the caller should look), or
    /// after `max`.
    pub(super) async fn wait(&self, pool: &PgPool, max: Duration) {
        tokio::select! {
            _ = self.announced(pool) => {}
            _ = tokio::time::sleep(max) => {}
        }
    }

    /// Never returns while there is no listener.
    async fn announced(&self, pool: &PgPool) {
        let mut guard = self.0.lock().await;
        if guard.is_none() {
            match listen(pool).await {
                Ok(l) => *guard = Some(l),
                Err(e) => tracing::warn!(error = %e, "cannot listen for new jobs; polling instead"),
            }
        }
        let Some(listener) = guard.as_mut() else {
            return std::future::pending().await;
        };
        match listener.try_recv().await {
            Ok(Some(_)) => {
                // Announcements already here would only wake the next wait
                // at once; one look at the queue serves them all.
                while let Some(Ok(Some(_))) = listener.try_recv().now_or_never() {}
            }
            // The connection was lost and is set up again.
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "listening for new jobs failed; polling until it is set up again");
                *guard = None;
                drop(guard);
                std::future::pending::<()>().await;
            }
        }
    }
}

async fn listen(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut l = PgListener::connect_with(pool).await?;
    l.listen(JOBS_CHANNEL).await?;
    Ok(l)
}
