//! Asking before a destructive action.

use leptos::prelude::*;

/// A destructive action that asks first, naming what goes. A native
/// `<details>`, so it works the same with and without JavaScript.
#[component]
pub fn Confirm(
    /// The button that opens the question.
    label: &'static str,
    /// What happens, naming the thing ("Remove “Ada's phone”? …").
    question: String,
    /// The form that does it (its submit button says what it does).
    children: Children,
) -> impl IntoView {
    view! {
        <details class="confirm">
            <summary class="btn btn-danger small">{label}</summary>
            <div class="confirm-panel" role="alertdialog">
                <p>{question}</p>
                {children()}
            </div>
        </details>
    }
}
