//! Best-effort "where in the YAML text is this path?" for errors found after parsing.
//!
//! serde_yaml reports a line for errors it raises itself, but semantic checks (duplicate uid,
//! bad service key, …) run on the parsed value, which carries no positions. Rather than a
//! second, position-tracking YAML parser, this walks the text by indentation, which is exact
//! for the block style config files are written in. For flow style (`{a: 1}`) it stops at the
//! deepest block node it could reach, which still points at the right element.

/// One step of a path: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A path such as `workloads[1].services."default/x"` as segments.
pub fn key(k: impl Into<String>) -> Seg {
    Seg::Key(k.into())
}

pub fn idx(i: usize) -> Seg {
    Seg::Index(i)
}

/// Renders segments the way serde_path_to_error does (`a[0].b`), quoting keys that contain
/// path punctuation.
pub fn render(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                if k.contains(['.', '/', '[', ' ']) {
                    out.push_str(&format!("{k:?}"));
                } else {
                    out.push_str(k);
                }
            }
        }
    }
    out
}

#[derive(Debug, Clone, Copy)]
struct Line<'a> {
    /// 1-based line number.
    no: usize,
    /// 0-based column where `text` starts.
    indent: usize,
    text: &'a str,
}

/// The 1-based (line, column) of the deepest node of `path` found in `yaml`, if any.
pub fn locate(yaml: &str, path: &[Seg]) -> Option<(usize, usize)> {
    let mut node: Vec<Line> = yaml
        .lines()
        .enumerate()
        .filter_map(|(i, raw)| {
            let text = raw.trim_start();
            if text.is_empty() || text.starts_with('#') || text == "---" {
                return None;
            }
            Some(Line { no: i + 1, indent: raw.len() - text.len(), text: text.trim_end() })
        })
        .collect();
    let mut found = None;
    for seg in path {
        let next = match seg {
            Seg::Key(k) => find_key(&node, k),
            Seg::Index(i) => find_index(&node, *i),
        };
        match next {
            Some((pos, child)) => {
                found = Some(pos);
                node = child;
            }
            None => break,
        }
    }
    found
}

type Found<'a> = ((usize, usize), Vec<Line<'a>>);

fn find_key<'a>(node: &[Line<'a>], key: &str) -> Option<Found<'a>> {
    let ci = node.iter().map(|l| l.indent).min()?;
    let (at, line, rest) = node.iter().enumerate().find_map(|(at, l)| {
        if l.indent != ci {
            return None;
        }
        strip_key(l.text, key).map(|rest| (at, *l, rest))
    })?;
    let pos = (line.no, line.indent + 1);
    let value = rest.trim_start();
    if !value.is_empty() && !value.starts_with('#') {
        // Inline value: the node is just that text.
        let col = line.indent + (line.text.len() - value.len());
        return Some((pos, vec![Line { no: line.no, indent: col, text: value }]));
    }
    // Block value: more-indented lines, or a sequence written at the key's own indent.
    let child =
        node[at + 1..].iter().take_while(|l| l.indent > ci || (l.indent == ci && is_item(l.text))).copied().collect();
    Some((pos, child))
}

fn find_index<'a>(node: &[Line<'a>], index: usize) -> Option<Found<'a>> {
    let ci = node.iter().map(|l| l.indent).min()?;
    let starts: Vec<usize> =
        node.iter().enumerate().filter(|(_, l)| l.indent == ci && is_item(l.text)).map(|(i, _)| i).collect();
    let start = *starts.get(index)?;
    let first = node[start];
    let pos = (first.no, first.indent + 1);
    let after_dash = &first.text[1..];
    let content = after_dash.trim_start();
    let mut child = Vec::new();
    if !content.is_empty() && !content.starts_with('#') {
        child.push(Line { no: first.no, indent: first.indent + 1 + (after_dash.len() - content.len()), text: content });
    }
    child.extend(node[start + 1..].iter().take_while(|l| l.indent > ci).copied());
    Some((pos, child))
}

fn is_item(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

/// If `text` is `key: ...` (key plain or quoted), the text after the colon.
fn strip_key<'t>(text: &'t str, key: &str) -> Option<&'t str> {
    for quoted in [key.to_string(), format!("\"{key}\""), format!("'{key}'")] {
        if let Some(rest) = text.strip_prefix(quoted.as_str()) {
            let rest = rest.trim_start();
            if let Some(after) = rest.strip_prefix(':')
                && (after.is_empty() || after.starts_with(' '))
            {
                return Some(after);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"# comment
workloads:
- uid: a
  name: one
  workloadIps: ["127.0.0.1"]
  services:
    "default/example.com":
      80: 8080
-   uid: b
    name: two
policies:
  - name: p
    rules:
    - - - notDestinationPorts:
          - 9999
services: [{name: s}]
"#;

    #[test]
    fn finds_block_paths() {
        assert_eq!(locate(DOC, &[key("workloads")]), Some((2, 1)));
        assert_eq!(locate(DOC, &[key("workloads"), idx(0)]), Some((3, 1)));
        assert_eq!(locate(DOC, &[key("workloads"), idx(0), key("uid")]), Some((3, 3)));
        assert_eq!(locate(DOC, &[key("workloads"), idx(0), key("workloadIps")]), Some((5, 3)));
        assert_eq!(
            locate(DOC, &[key("workloads"), idx(0), key("services"), key("default/example.com"), key("80")]),
            Some((8, 7))
        );
        assert_eq!(locate(DOC, &[key("workloads"), idx(1), key("name")]), Some((10, 5)));
        assert_eq!(
            locate(
                DOC,
                &[key("policies"), idx(0), key("rules"), idx(0), idx(0), idx(0), key("notDestinationPorts"), idx(0)]
            ),
            Some((15, 11))
        );
    }

    #[test]
    fn falls_back_to_deepest_found() {
        assert_eq!(locate(DOC, &[key("services"), idx(0), key("name")]), Some((16, 1)));
        assert_eq!(locate(DOC, &[key("workloads"), idx(7)]), Some((2, 1)));
        assert_eq!(locate(DOC, &[key("nope")]), None);
    }

    #[test]
    fn renders_like_path_to_error() {
        assert_eq!(render(&[key("workloads"), idx(1), key("services"), key("a/b")]), "workloads[1].services.\"a/b\"");
    }
}
