//! The welcome stays pinned on the bot's profile for the hour, so people
//! arriving late find the chat; it is unpinned when the chat is over. A
//! pin is a courtesy: failing to pin is logged, never a reason to stop.

use super::occurrence::Posting;
use crate::config::Chat;
use crate::plan::StepKind;
use crate::store::{StepRecord, StepState};

impl Posting {
    /// Pins the welcome just posted.
    pub(super) async fn pin_welcome(&mut self, chat: &Chat, remote_id: &str) {
        if !chat.pin_welcome || self.pinned {
            return;
        }
        self.pinned = true;
        if let Err(e) = self.engine.instance.pin(remote_id).await {
            tracing::warn!("could not pin the welcome: {e}");
        }
    }

    /// Resuming a chat whose welcome is out (a restart): pin it again, the
    /// pin may have been lost with the crash.
    pub(super) async fn repin_after_restart(&mut self, chat: &Chat, steps: &[StepRecord]) {
        if self.pinned || !chat.pin_welcome {
            return;
        }
        let welcome = steps
            .iter()
            .find(|s| s.kind == StepKind::Welcome && s.state == StepState::Posted);
        let wrapped = steps
            .iter()
            .any(|s| s.kind == StepKind::WrapUp && s.state != StepState::Pending);
        if let (Some(w), false) = (welcome.and_then(|w| w.remote.as_ref()), wrapped) {
            self.pinned = true;
            if let Err(e) = self.engine.instance.pin(&w.id).await {
                tracing::info!("re-pinning the welcome after a restart: {e}");
            }
        }
    }

    /// Unpins the welcome at the end of the chat.
    pub(super) async fn unpin_welcome(&self, chat: &Chat, steps: &[StepRecord]) {
        if chat.pin_welcome
            && let Some(welcome) = steps
                .iter()
                .find(|s| s.kind == StepKind::Welcome)
                .and_then(|s| s.remote.as_ref().map(|r| r.id.clone()))
            && let Err(e) = self.engine.instance.unpin(&welcome).await
        {
            tracing::warn!("could not unpin the welcome: {e}");
        }
    }
}
