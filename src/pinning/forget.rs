//! Taking a service out of `remote_pinning`: the station's requests there deleted (when
//! the operator asks) and its state forgotten.

use super::api::Client;
use super::request_name;
use super::state::{load, save, REMOTE_PINS_LOCK};
use crate::error::Result;
use crate::station::remote_pinning::{read_token, RemoteService};
use crate::station::state::InstanceLock;
use crate::station::Station;
use serde::Serialize;

/// What [`forget_service`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Forgotten {
    /// Requests deleted on the service.
    pub deleted: usize,
    /// Why the service's requests could not be deleted (they are left there), if so.
    pub error: Option<String>,
}

/// When `service` (as it was configured: its token file is read) leaves
/// `remote_pinning`: deletes the station's requests there (with `delete_requests`:
/// every request named for the station's library and page, listed from the service)
/// and forgets its state, holding the followers' lock ([`super::state::REMOTE_PINS_LOCK`],
/// waiting out a pass in progress) so no follower writes its state back. A failing
/// service leaves its requests and says why; the state is forgotten either way.
///
/// Errors: [`crate::error::Error::Io`] taking the lock or writing
/// [`super::REMOTE_PINS_FILE`].
pub async fn forget_service(
    station: &Station,
    service: &RemoteService,
    delete_requests: bool,
) -> Result<Forgotten> {
    let mut out = Forgotten::default();
    let state = station.state();
    state.create()?;
    let path = state.file(REMOTE_PINS_LOCK);
    let what = format!("remote pinning of {}", station.dir().display());
    let lock_path = path.clone();
    let _lock =
        tokio::task::spawn_blocking(move || InstanceLock::acquire_blocking(&lock_path, &what))
            .await
            .map_err(|e| crate::error::Error::io(&path, std::io::Error::other(e.to_string())))??;
    if delete_requests {
        let deleted = async {
            let token = read_token(service).map_err(|e| e.to_string())?;
            let client = Client::new(service, token).map_err(|e| e.to_string())?;
            let mut n = 0;
            for subject in ["library", "page"] {
                let name = request_name(&station.streaming.ipns_key, subject);
                for s in client.list_all(&name).await.map_err(|e| e.to_string())? {
                    if client
                        .delete(&s.requestid)
                        .await
                        .map_err(|e| e.to_string())?
                    {
                        n += 1;
                    }
                }
            }
            Ok::<usize, String>(n)
        };
        match deleted.await {
            Ok(n) => out.deleted = n,
            Err(e) => out.error = Some(e),
        }
    }
    let mut pins = load(&state);
    if pins.services.remove(&service.name).is_some() {
        save(&state, &mut pins)?;
    }
    Ok(out)
}
