//! Server-sent events (the HTML standard, "Interpreting an event stream"): a stream of
//! lines, `field: value`, an event ending at a blank line; `data` lines join with `\n`,
//! `event` names it (`message` when absent), `id` is kept, a line starting with `:` is a
//! comment, and an event without data is not dispatched.

use serde_json::{Value, json};

/// An event stream being read, and the events it has given so far.
#[derive(Default)]
pub struct Stream {
    buf: Vec<u8>,
    events: Vec<Value>,
    event: Option<String>,
    data: Vec<String>,
    id: Option<String>,
}

impl Stream {
    /// More bytes of the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        while let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
            let mut line: Vec<u8> = self.buf.drain(..=end).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            self.line(&String::from_utf8_lossy(&line));
        }
    }

    fn line(&mut self, line: &str) {
        if line.is_empty() {
            if !self.data.is_empty() {
                self.events.push(json!({
                    "event": self.event.take().unwrap_or_else(|| "message".into()),
                    "data": self.data.join("\n"),
                    "id": self.id.clone(),
                }));
            }
            self.data.clear();
            self.event = None;
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "data" => self.data.push(value.to_string()),
            "event" => self.event = Some(value.to_string()),
            "id" if !value.contains('\0') => self.id = Some(value.to_string()),
            _ => {}
        }
    }

    pub fn events(&self) -> &[Value] {
        &self.events
    }

    /// Bytes of a line not ended yet.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    pub fn into_events(self) -> Vec<Value> {
        self.events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_read_as_the_standard_says() {
        let mut s = Stream::default();
        s.push(b": a comment\r\nevent: tick\r\ndata: one\r\n");
        assert!(s.events().is_empty(), "not ended yet");
        s.push(b"data: two\r\nid: 7\r\n\r\ndata:no space\n\nevent: empty\n\ndata");
        s.push(b": split\n\n");
        let e = s.into_events();
        assert_eq!(e.len(), 3, "{e:?}");
        assert_eq!(
            e[0],
            json!({"event": "tick", "data": "one\ntwo", "id": "7"})
        );
        assert_eq!(
            e[1],
            json!({"event": "message", "data": "no space", "id": "7"})
        );
        assert_eq!(e[2]["data"], "split");
    }
}
