//! A warning for the user, and the field it is about.

/// A message for the user (`kubectl` prints it) and the field it concerns,
/// so that `check` can place it on that field's line without reading the
/// message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// The field, as a violation names one (`spec.suspend`,
    /// `metadata.labels[kueue.x-k8s.io/queue-name]`); `None` when the
    /// warning is about the object as a whole.
    pub field: Option<String>,
    pub message: String,
}

impl Warning {
    /// A warning about `field`.
    pub fn on(field: impl Into<String>, message: String) -> Self {
        Warning {
            field: Some(field.into()),
            message,
        }
    }

    /// A warning about the object as a whole.
    pub fn whole(message: String) -> Self {
        Warning {
            field: None,
            message,
        }
    }
}
