use std::io::{BufReader, Read};

use serde_json::json;

use super::*;

/// A reader that hands out one byte per read: every frame arrives split across reads.
struct Trickle<'a>(&'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match (self.0.split_first(), buf.first_mut()) {
            (Some((&b, rest)), Some(slot)) => {
                *slot = b;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

fn frames(input: &str) -> Vec<Result<Option<String>, String>> {
    let mut reader = BufReader::with_capacity(1, Trickle(input.as_bytes()));
    let mut out = Vec::new();
    loop {
        let next = read_frame(&mut reader).map_err(|e| e.to_string());
        let stop = !matches!(next, Ok(Some(_)));
        out.push(next);
        if stop {
            return out;
        }
    }
}

#[test]
fn frames_split_across_reads_and_over_several_lines_are_joined() {
    let got = frames("{\"a\":\n1}\nend\n{\"b\":2}\nend\n");
    assert_eq!(
        got,
        vec![
            Ok(Some("{\"a\":\n1}".to_owned())),
            Ok(Some("{\"b\":2}".to_owned())),
            Ok(None)
        ]
    );
}

#[test]
fn blank_lines_between_frames_are_skipped() {
    let got = frames("\n\n{\"a\":1}\nend\n\n\r\n{\"b\":2}\r\nend\r\n\n");
    assert_eq!(got[0], Ok(Some("{\"a\":1}".to_owned())));
    assert_eq!(got[1], Ok(Some("{\"b\":2}".to_owned())));
    assert_eq!(got[2], Ok(None));
}

#[test]
fn end_of_input_inside_a_frame_is_a_broken_pipe() {
    let got = frames("{\"a\":1}\n");
    assert_eq!(
        got,
        vec![Err(
            "pipe to subprocess seems to be broken: it closed its output".to_owned()
        )]
    );
}

#[test]
fn an_oversized_frame_is_refused_before_it_is_held() {
    let line = "x".repeat(MAX_FRAME_BYTES + 1);
    let mut reader = BufReader::new(line.as_bytes());
    assert!(matches!(
        read_frame(&mut reader),
        Err(ProtocolError::TooLong)
    ));
}

#[test]
fn written_frames_read_back() {
    let mut buf = Vec::new();
    write_frame(&mut buf, &json!({"command": "next", "id": ""})).unwrap();
    assert_eq!(buf, b"{\"command\":\"next\",\"id\":\"\"}\nend\n");
    let mut reader = BufReader::new(&buf[..]);
    assert_eq!(
        read_frame(&mut reader).unwrap().as_deref(),
        Some("{\"command\":\"next\",\"id\":\"\"}")
    );
}

#[test]
fn every_command_a_process_sends_is_understood() {
    assert_eq!(parse(r#"{"pid": 4242}"#).unwrap(), FromProcess::Pid(4242));
    assert_eq!(parse(r#"{"command":"sync"}"#).unwrap(), FromProcess::Sync);
    assert_eq!(
        parse(r#"{"command":"ack","id":"-123"}"#).unwrap(),
        FromProcess::Ack(json!("-123"))
    );
    assert_eq!(
        parse(r#"{"command":"fail","id":7}"#).unwrap(),
        FromProcess::Fail(json!(7))
    );
    assert_eq!(
        parse(r#"{"command":"log","msg":"hi","level":3}"#).unwrap(),
        FromProcess::Log {
            msg: "hi".into(),
            level: 3
        }
    );
    assert_eq!(
        parse(r#"{"command":"log","msg":"hi"}"#).unwrap(),
        FromProcess::Log {
            msg: "hi".into(),
            level: 2
        },
        "info when no level is given"
    );
    assert_eq!(
        parse(r#"{"command":"error","msg":"boom"}"#).unwrap(),
        FromProcess::Error("boom".into())
    );
    assert_eq!(
        parse(r#"{"command":"metrics","name":"m","params":[1]}"#).unwrap(),
        FromProcess::Metrics {
            name: "m".into(),
            params: json!([1])
        }
    );
    assert_eq!(
        parse(r#"{"command":"dance"}"#).unwrap(),
        FromProcess::Unknown("dance".into())
    );
}

#[test]
fn emits_carry_anchors_streams_tasks_ids_and_need_task_ids() {
    let FromProcess::Emit(e) =
        parse(r#"{"command":"emit","tuple":["a",1],"anchors":["5","6"],"stream":"s"}"#).unwrap()
    else {
        panic!("not an emit");
    };
    assert_eq!(e.tuple, vec![json!("a"), json!(1)]);
    assert_eq!(e.anchors, vec!["5", "6"]);
    assert_eq!(e.stream.as_deref(), Some("s"));
    assert!(e.need_task_ids, "true unless the process says false");
    assert_eq!((e.id, e.task), (None, None));

    let FromProcess::Emit(e) = parse(
        r#"{"command":"emit","tuple":[],"anchors":"9","task":4,"id":"m1","need_task_ids":false}"#,
    )
    .unwrap() else {
        panic!("not an emit");
    };
    assert_eq!(e.anchors, vec!["9"], "a single anchor may be a string");
    assert_eq!(e.task, Some(4));
    assert_eq!(e.id, Some(json!("m1")));
    assert!(!e.need_task_ids);
}

#[test]
fn garbage_is_one_clear_error_naming_what_came() {
    for (frame, what) in [
        ("not json", "invalid JSON"),
        ("[1,2]", "not a JSON object"),
        (r#"{"hello":1}"#, "no command"),
        (r#"{"command":"emit","tuple":"x"}"#, "tuple is not a list"),
        (r#"{"command":"ack"}"#, "no id"),
        (r#"{"command":3}"#, "not a string"),
        (
            r#"{"command":"emit","tuple":[],"task":-1}"#,
            "malformed task",
        ),
    ] {
        let e = parse(frame).unwrap_err().to_string();
        assert!(e.contains(what), "{frame}: {e}");
        assert!(
            e.contains(frame.chars().take(5).collect::<String>().as_str()),
            "{e}"
        );
    }
}

#[test]
fn values_travel_as_json_and_back() {
    let v = Value::List(vec![
        Value::Null,
        Value::Bool(true),
        Value::I64(-3),
        Value::F64(1.5),
        Value::from("s"),
        Value::Map([("k".to_owned(), Value::I64(1))].into_iter().collect()),
    ]);
    assert_eq!(from_json(&to_json(&v)), v);
    assert_eq!(to_json(&Value::Bytes(vec![1, 2])), json!([1, 2]));
    assert_eq!(from_json(&json!(u64::MAX)), Value::F64(u64::MAX as f64));
}

#[test]
fn the_handshake_has_storms_keys() {
    let context = Context {
        taskid: 3,
        componentid: "split".into(),
        streams: vec!["default".into()],
        ..Context::default()
    };
    let conf = json!({"topology.name": "wc"});
    let text = serde_json::to_value(Handshake {
        pid_dir: "/tmp/p",
        conf: &conf,
        context: &context,
    })
    .unwrap();
    assert_eq!(text["pidDir"], "/tmp/p");
    assert_eq!(text["conf"]["topology.name"], "wc");
    for key in [
        "task->component",
        "taskid",
        "componentid",
        "streams",
        "stream->outputfields",
        "stream->target->grouping",
        "source->stream->grouping",
        "source->stream->fields",
    ] {
        assert!(!text["context"][key].is_null(), "no {key}");
    }
}
