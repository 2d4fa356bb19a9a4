use super::*;
use serde::Deserialize;

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Doc {
    name: String,
    #[serde(default)]
    port: Option<u16>,
    #[serde(default)]
    inner: Inner,
    #[serde(default)]
    kind: Option<Flavor>,
    #[serde(default)]
    list: Vec<u32>,
}

#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Inner {
    #[serde(default)]
    timeout: Option<crate::config::ConfigDuration>,
    #[serde(default)]
    flag: bool,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
enum Flavor {
    Enterprise,
    NotebookServer,
}

#[test]
fn values_take_the_type_the_field_asks_for() {
    let doc: Doc =
        from_str("name: 007\nport: \"587\"\ninner: { flag: TRUE }\nkind: notebook-server\nlist: [1, '2']\n").unwrap();
    assert_eq!(doc.name, "007", "text stays as written");
    assert_eq!(doc.port, Some(587));
    assert!(doc.inner.flag);
    assert_eq!(doc.kind, Some(Flavor::NotebookServer));
    assert_eq!(doc.list, [1, 2]);
    let json = to_json(&document("a: 20\nb: '20'\nc: true\nd: [x, 1.5]\ne:\n").unwrap());
    assert_eq!(json, serde_json::json!({ "a": 20, "b": "20", "c": true, "d": ["x", 1.5], "e": null }));
}

#[test]
fn every_mistake_is_found_in_one_pass_each_located() {
    let text =
        "name: x\nprot: 25\ninner:\n  timout: 20s\n  timeout: 20\n  flag: maybe\nkind: enterprize\nlist: [1, two, 3]\n";
    let problems = from_str::<Doc>(text).unwrap_err();
    let shown: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(shown.len(), 6, "{shown:#?}");
    assert!(shown[0].starts_with("2:1: unknown key `prot` (did you mean `port`?)"), "{shown:#?}");
    assert!(
        shown[1].starts_with("4:3: unknown key `timout` (did you mean `timeout`?)")
            && shown[1].ends_with("(in `inner`)"),
        "{shown:#?}"
    );
    assert!(shown[2].starts_with("5:12: `timeout`: a duration needs a unit, for example `20s`"), "{shown:#?}");
    assert!(shown[3].starts_with("6:9: `flag`: expected true or false, found `maybe`"), "{shown:#?}");
    assert!(
        shown[4].starts_with(
            "7:7: `kind`: `enterprize` is not one of enterprise, notebook-server (did you mean `enterprise`?)"
        ),
        "{shown:#?}"
    );
    assert!(shown[5].starts_with("8:11: `list`: expected a whole number from 0, found `two`"), "{shown:#?}");
}

#[test]
fn a_missing_required_key_is_named_once() {
    let problems = from_str::<Doc>("port: 1\nprot: 2\n").unwrap_err();
    let shown: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(shown.len(), 2, "{shown:#?}");
    assert!(shown[1].contains("`name` is required here"), "{shown:#?}");
}

#[test]
fn a_plain_variable_in_a_flow_mapping_gets_a_hint() {
    let problem = document("auth: { password: ${PW} }\n").unwrap_err().remove(0);
    assert!(problem.message.contains("write a variable in quotes"), "{problem}");
}
