//! A Flux stream's `grouping:` as a Squall [`Grouping`], checked against the fields the
//! emitting component declares.

use squall_topology_api::{Fields, Grouping};

use crate::model::GroupingDef;

/// Flux's grouping types that Squall runs.
const TYPES: &str = "SHUFFLE, FIELDS, ALL, GLOBAL, NONE, LOCAL_OR_SHUFFLE";

/// The stream id and grouping; `declared` gives the fields of a stream of the emitter, if it
/// declares that stream. The error names the key at fault.
pub fn read(
    def: &GroupingDef,
    from: &str,
    declared: impl Fn(&str) -> Option<Vec<String>>,
) -> Result<(String, Grouping), String> {
    let stream = def
        .stream_id
        .clone()
        .unwrap_or_else(|| "default".to_owned());
    let kind = def.kind.to_ascii_uppercase();
    if kind == "CUSTOM" {
        let class = def
            .custom_class
            .as_ref()
            .and_then(|c| c.get("className").or(Some(c)))
            .map(|c| c.as_str().map_or_else(|| c.to_string(), str::to_owned))
            .unwrap_or_else(|| "its class".to_owned());
        return Err(format!(
            "grouping.customClass: {class} is a Java class, which Squall cannot run (groupings: {TYPES})"
        ));
    }
    if kind == "DIRECT" {
        return Err(format!(
            "grouping.type: DIRECT needs a direct stream, and \"{from}\" declares none (shell components declare plain streams; groupings: {TYPES})"
        ));
    }
    let Some(fields) = declared(&stream) else {
        return Err(format!(
            "grouping.streamId: \"{from}\" declares no stream \"{stream}\" (declare it with constructorArgs or setNamedStream)"
        ));
    };
    if def.args.is_some() && kind != "FIELDS" {
        return Err(format!(
            "grouping.args: only FIELDS takes arguments, not {kind}"
        ));
    }
    let grouping = match kind.as_str() {
        "SHUFFLE" => Grouping::Shuffle,
        "ALL" => Grouping::All,
        "GLOBAL" => Grouping::Global,
        "NONE" => Grouping::None,
        "LOCAL_OR_SHUFFLE" => Grouping::LocalOrShuffle,
        "FIELDS" => {
            let args = def.args.as_deref().unwrap_or_default();
            if args.is_empty() {
                return Err(
                    "grouping.args: FIELDS needs the fields to group by, for example args: [word]"
                        .to_owned(),
                );
            }
            if let Some(missing) = args.iter().find(|a| !fields.contains(a)) {
                return Err(format!(
                    "grouping.args: \"{from}\" stream \"{stream}\" has no field \"{missing}\" (it has [{}])",
                    fields.join(", ")
                ));
            }
            Grouping::Fields(Fields::new(args.iter().map(String::as_str)))
        }
        _ => {
            return Err(format!(
                "grouping.type: {} is not a Flux grouping Squall runs ({TYPES})",
                def.kind
            ));
        }
    };
    Ok((stream, grouping))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(kind: &str, stream: Option<&str>, args: Option<&[&str]>) -> GroupingDef {
        GroupingDef {
            kind: kind.to_owned(),
            stream_id: stream.map(str::to_owned),
            args: args.map(|a| a.iter().map(|s| (*s).to_owned()).collect()),
            custom_class: None,
        }
    }

    fn declared(stream: &str) -> Option<Vec<String>> {
        (stream == "default").then(|| vec!["word".to_owned(), "count".to_owned()])
    }

    #[test]
    fn each_flux_type_maps_to_its_grouping() {
        for (kind, want) in [
            ("SHUFFLE", Grouping::Shuffle),
            ("ALL", Grouping::All),
            ("GLOBAL", Grouping::Global),
            ("NONE", Grouping::None),
            ("LOCAL_OR_SHUFFLE", Grouping::LocalOrShuffle),
            ("shuffle", Grouping::Shuffle),
        ] {
            assert_eq!(
                read(&def(kind, None, None), "split", declared),
                Ok(("default".to_owned(), want))
            );
        }
        assert_eq!(
            read(&def("FIELDS", None, Some(&["word"])), "split", declared),
            Ok((
                "default".to_owned(),
                Grouping::Fields(Fields::new(["word"]))
            ))
        );
    }

    #[test]
    fn mistakes_name_the_key() {
        let cases: [(GroupingDef, &str); 6] = [
            (
                def("SHUFLE", None, None),
                "grouping.type: SHUFLE is not a Flux grouping Squall runs (SHUFFLE, FIELDS, ALL, GLOBAL, NONE, LOCAL_OR_SHUFFLE)",
            ),
            (
                def("FIELDS", None, None),
                "grouping.args: FIELDS needs the fields to group by, for example args: [word]",
            ),
            (
                def("FIELDS", None, Some(&["wrd"])),
                "grouping.args: \"split\" stream \"default\" has no field \"wrd\" (it has [word, count])",
            ),
            (
                def("SHUFFLE", Some("lengths"), None),
                "grouping.streamId: \"split\" declares no stream \"lengths\" (declare it with constructorArgs or setNamedStream)",
            ),
            (
                def("SHUFFLE", None, Some(&["word"])),
                "grouping.args: only FIELDS takes arguments, not SHUFFLE",
            ),
            (
                def("DIRECT", None, None),
                "grouping.type: DIRECT needs a direct stream, and \"split\" declares none (shell components declare plain streams; groupings: SHUFFLE, FIELDS, ALL, GLOBAL, NONE, LOCAL_OR_SHUFFLE)",
            ),
        ];
        for (d, want) in cases {
            assert_eq!(read(&d, "split", declared).unwrap_err(), want);
        }
        let custom = GroupingDef {
            custom_class: Some(serde_json::json!({"className": "com.example.MyGrouping"})),
            ..def("CUSTOM", None, None)
        };
        assert!(
            read(&custom, "split", declared)
                .unwrap_err()
                .starts_with("grouping.customClass: com.example.MyGrouping is a Java class")
        );
    }
}
