//! Field paths and JSON pointers as steps into a [`Node`](super::Node) tree.

/// One step of a field path or JSON pointer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// The steps of a JSON pointer (`/metadata/labels/kueue.x-k8s.io~1queue-name`).
pub fn pointer_steps(pointer: &str) -> Vec<Step> {
    pointer
        .split('/')
        .skip(1)
        .map(|token| {
            let token = token.replace("~1", "/").replace("~0", "~");
            match token.parse() {
                Ok(index) => Step::Index(index),
                Err(_) => Step::Key(token),
            }
        })
        .collect()
}

/// The steps of a Kubernetes field path (`spec.workerGroupSpecs[3].groupName`,
/// `metadata.labels[kueue.x-k8s.io/queue-name]`).
pub fn field_steps(path: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(inner) = rest.strip_prefix('[') {
            let end = inner.find(']').unwrap_or(inner.len());
            let key = &inner[..end];
            steps.push(match key.parse() {
                Ok(index) => Step::Index(index),
                Err(_) => Step::Key(key.to_owned()),
            });
            rest = inner.get(end + 1..).unwrap_or_default();
        } else {
            let rest_trimmed = rest.strip_prefix('.').unwrap_or(rest);
            let end = rest_trimmed.find(['.', '[']).unwrap_or(rest_trimmed.len());
            if end > 0 {
                steps.push(Step::Key(rest_trimmed[..end].to_owned()));
            }
            rest = &rest_trimmed[end..];
        }
    }
    steps
}
