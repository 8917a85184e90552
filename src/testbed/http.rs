//! A minimal HTTP/1.1 client (one request per connection) for the operations endpoints, and a
//! Prometheus/OpenMetrics text parser, so tests and the benchmark check real responses
//! without extra tools.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context, bail};

/// Sends `method path` and returns (status, body).
pub fn request(addr: SocketAddr, method: &str, path: &str) -> anyhow::Result<(u16, String)> {
    request_with_body(addr, method, path, "", Duration::from_secs(10))
}

/// Sends `method path` with `body`, waiting up to `timeout` for the answer.
pub fn request_with_body(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
    timeout: Duration,
) -> anyhow::Result<(u16, String)> {
    let mut s =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).with_context(|| format!("connecting to {addr}"))?;
    s.set_read_timeout(Some(timeout))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").context("no header terminator")?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .with_context(|| format!("bad status line in {head:?}"))?;
    let chunked = head.lines().any(|l| l.to_ascii_lowercase().starts_with("transfer-encoding: chunked"));
    let body = if chunked { dechunk(body)? } else { body.to_string() };
    Ok((status, body))
}

fn dechunk(mut s: &str) -> anyhow::Result<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = s.split_once("\r\n").context("bad chunk")?;
        let n = usize::from_str_radix(size.trim(), 16).context("bad chunk size")?;
        if n == 0 {
            return Ok(out);
        }
        out.push_str(rest.get(..n).context("short chunk")?);
        s = rest.get(n + 2..).context("short chunk")?;
    }
}

/// One sample: metric name (with `_total` etc.), labels, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// Label names in the order they were written.
    pub label_order: Vec<String>,
    pub value: f64,
}

/// Parses the text exposition format (comments skipped). Strict: malformed lines are errors.
pub fn parse_metrics(text: &str) -> anyhow::Result<Vec<Sample>> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, rest) = match line.find('{') {
            Some(i) => (&line[..i], &line[i..]),
            None => line.split_once(' ').context("no value")?,
        };
        let mut labels = BTreeMap::new();
        let mut label_order = Vec::new();
        let value_part = if let Some(body) = rest.strip_prefix('{') {
            let mut chars = body.char_indices().peekable();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                if c == '}' {
                    end = Some(i);
                    break;
                }
                // key
                let start = i;
                let mut key_end = i;
                let mut cur = Some((i, c));
                while let Some((j, ch)) = cur {
                    if ch == '=' {
                        key_end = j;
                        break;
                    }
                    cur = chars.next();
                }
                let key = body[start..key_end].trim_start_matches(',').to_string();
                match chars.next() {
                    Some((_, '"')) => {}
                    _ => bail!("expected quote after {key}= in {line:?}"),
                }
                let mut val = String::new();
                loop {
                    match chars.next() {
                        Some((_, '\\')) => match chars.next() {
                            Some((_, 'n')) => val.push('\n'),
                            Some((_, c)) => val.push(c),
                            None => bail!("dangling escape in {line:?}"),
                        },
                        Some((_, '"')) => break,
                        Some((_, c)) => val.push(c),
                        None => bail!("unterminated value in {line:?}"),
                    }
                }
                if let Some(&(_, ',')) = chars.peek() {
                    chars.next();
                }
                label_order.push(key.clone());
                labels.insert(key, val);
            }
            let end = end.with_context(|| format!("unterminated labels in {line:?}"))?;
            &body[end + 1..]
        } else {
            rest
        };
        let value: f64 = value_part
            .split_whitespace()
            .next()
            .context("no value")?
            .parse()
            .with_context(|| format!("bad value in {line:?}"))?;
        out.push(Sample { name: name.to_string(), labels, label_order, value });
    }
    Ok(out)
}

/// Sum of the samples named `name` whose labels include every `(k, v)` in `want`.
pub fn sum(samples: &[Sample], name: &str, want: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name && want.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
        .map(|s| s.value)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_labels_and_values() {
        let t = "# HELP x y\nistio_build{component=\"ztunnel\",tag=\"a\\\"b\"} 1\nplain 2.5\nempty{} 0\n# EOF\n";
        let s = parse_metrics(t).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].labels["tag"], "a\"b");
        assert_eq!(s[0].label_order, ["component", "tag"]);
        assert_eq!(s[1].value, 2.5);
        assert_eq!(sum(&s, "istio_build", &[("component", "ztunnel")]), 1.0);
        assert!(parse_metrics("bad{a=1} 1").is_err());
    }
}
