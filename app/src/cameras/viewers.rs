//! How many live views each user holds open on this portal instance.
//!
//! Each view is a WebSocket, a bounded relay queue and, for a camera nobody
//! else watches, a pull from the gateway: a script opening views in a loop
//! would cost all of that per socket. A slot is taken before the upgrade and
//! given back when the view ends, however it ends.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

#[derive(Clone, Default)]
pub struct ViewerSlots {
    open: Arc<Mutex<HashMap<i64, u32>>>,
}

/// One open live view; the slot is freed when this is dropped.
pub struct ViewerSlot {
    slots: ViewerSlots,
    user_id: i64,
}

impl ViewerSlots {
    /// A slot for `user_id`, or `None` when they already hold `max`.
    pub fn take(&self, user_id: i64, max: u32) -> Option<ViewerSlot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(user_id).or_default();
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(ViewerSlot {
            slots: self.clone(),
            user_id,
        })
    }

    /// Live views `user_id` holds open now.
    pub fn open(&self, user_id: i64) -> u32 {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.get(&user_id).copied().unwrap_or(0)
    }
}

impl Drop for ViewerSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.user_id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.user_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_capped_per_user_and_freed_on_drop() {
        let slots = ViewerSlots::default();
        let a = slots.take(1, 2).expect("first");
        let _b = slots.take(1, 2).expect("second");
        assert!(slots.take(1, 2).is_none(), "a third is over the cap");
        assert!(slots.take(2, 2).is_some(), "another user has their own");
        drop(a);
        assert_eq!(slots.open(1), 1);
        assert!(slots.take(1, 2).is_some());
    }
}
