//! Scheduled workflow steps. The scheduler knows no concept: each concept
//! implements [`Workflow`] for its own workflows (a typed step enum stored
//! through serde) and `startup` registers them in [`Workflows`].

pub mod model;

#[cfg(feature = "ssr")]
mod scheduler;
#[cfg(feature = "ssr")]
pub use scheduler::*;
