//! Kubernetes name rules (RFC 1123), with the API server's own messages.

const LABEL_MAX: usize = 63;
const SUBDOMAIN_MAX: usize = 253;

const LABEL_FMT: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric \
characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name', or \
'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

const SUBDOMAIN_FMT: &str = "a lowercase RFC 1123 subdomain must consist of lower case \
alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character \
(e.g. 'example.com', regex used for validation is \
'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

fn is_label_body(s: &str) -> bool {
    let bytes = s.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            alnum(first) && alnum(last) && bytes.iter().all(|b| alnum(b) || *b == b'-')
        }
        _ => false,
    }
}

/// A DNS-1123 label: what a PodSet name must be.
pub fn dns1123_label(s: &str) -> Result<(), String> {
    if s.len() > LABEL_MAX {
        return Err(format!("must be no more than {LABEL_MAX} characters"));
    }
    if !is_label_body(s) {
        return Err(LABEL_FMT.to_string());
    }
    Ok(())
}

/// A DNS-1123 subdomain: what a LocalQueue name must be.
pub fn dns1123_subdomain(s: &str) -> Result<(), String> {
    if s.len() > SUBDOMAIN_MAX {
        return Err(format!("must be no more than {SUBDOMAIN_MAX} characters"));
    }
    if !s.split('.').all(is_label_body) {
        return Err(SUBDOMAIN_FMT.to_string());
    }
    Ok(())
}

const NAME_FMT: &str = "a name part must consist of alphanumeric characters, '-', '_' or '.', \
and must start and end with an alphanumeric character (e.g. 'MyName', or 'my.name', or \
'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

/// A qualified name (`[prefix/]name`): what a label key must be, so what a
/// topology level names. The prefix is a DNS-1123 subdomain; the name at
/// most 63 characters of letters, digits, `-`, `_` and `.`, starting and
/// ending alphanumeric.
pub fn qualified_name(s: &str) -> Result<(), String> {
    let (prefix, name) = match s.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, s),
    };
    if let Some(prefix) = prefix {
        if prefix.is_empty() {
            return Err("prefix part must be non-empty".into());
        }
        dns1123_subdomain(prefix).map_err(|why| format!("prefix part {why}"))?;
    }
    if name.is_empty() {
        return Err("name part must be non-empty".into());
    }
    if name.len() > LABEL_MAX {
        return Err(format!(
            "name part must be no more than {LABEL_MAX} characters"
        ));
    }
    let bytes = name.as_bytes();
    let alnum = |b: &u8| b.is_ascii_alphanumeric();
    let ends = bytes.first().is_some_and(alnum) && bytes.last().is_some_and(alnum);
    let body = bytes
        .iter()
        .all(|b| alnum(b) || matches!(b, b'-' | b'_' | b'.'));
    if !ends || !body {
        return Err(NAME_FMT.to_string());
    }
    Ok(())
}

/// A label value (Kubernetes `IsValidLabelValue`): empty, or at most 63
/// characters, alphanumeric at both ends, `-`, `_` or `.` between.
pub fn label_value(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Ok(());
    }
    if s.len() > LABEL_MAX {
        return Err(format!("must be no more than {LABEL_MAX} characters"));
    }
    let bytes = s.as_bytes();
    let alnum = |b: &u8| b.is_ascii_alphanumeric();
    let ends = bytes.first().is_some_and(alnum) && bytes.last().is_some_and(alnum);
    let body = bytes
        .iter()
        .all(|b| alnum(b) || matches!(b, b'-' | b'_' | b'.'));
    if !ends || !body {
        return Err(
            "a valid label must be an empty string or consist of alphanumeric \
                    characters, '-', '_' or '.', and must start and end with an alphanumeric \
                    character"
                .into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        for ok in ["a", "small-group", "0gpu", "a1", &"x".repeat(63)] {
            assert!(dns1123_label(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "a-", "A", "a.b", "a_b", "ü", &"x".repeat(64)] {
            assert!(dns1123_label(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn qualified_names() {
        for ok in [
            "topology.kubernetes.io/zone",
            "kubernetes.io/hostname",
            "cloud.provider.com/topology-block",
            "rack",
            "A_b.c-D",
            &"x".repeat(63),
        ] {
            assert!(qualified_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/zone",
            "zone/",
            "Example.com/zone",
            "a/b/c",
            "-zone",
            "zone.",
            "zo ne",
            &"x".repeat(64),
        ] {
            assert!(qualified_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn subdomains() {
        for ok in ["user-queue", "a.b", "team1.queue-2", &"a".repeat(253)] {
            assert!(dns1123_subdomain(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a..b",
            ".a",
            "a.",
            "Team",
            "a_b",
            "a/b",
            &"a".repeat(254),
        ] {
            assert!(dns1123_subdomain(bad).is_err(), "{bad}");
        }
    }
}
