//! `packaging/kubernetes/`: every manifest loads, and the fields that matter are set — two
//! replicas named after their pods, probes on /healthz, a disruption budget, a non-root pod with
//! a read-only root filesystem, passwords from the Secret only — and the ConfigMap's nbwarden.yaml
//! and rules pass `nbwarden check`.

use crate::util::{nbwarden, text};
use serde_json::Value;
use std::path::Path;

fn manifest(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/kubernetes").join(name);
    let yaml = std::fs::read_to_string(&path).unwrap();
    nbwarden::config::yaml::from_str_as_written(&yaml).unwrap_or_else(|e| panic!("{name}: {e:?}"))
}

#[test]
fn every_manifest_loads_and_the_kustomization_lists_them_all() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/kubernetes");
    let listed: Vec<String> = manifest("kustomization.yaml")["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if !name.ends_with(".yaml") || name == "kustomization.yaml" {
            continue;
        }
        let doc = manifest(&name);
        assert!(doc["apiVersion"].is_string() && doc["kind"].is_string(), "{name} is a manifest");
        if name != "secret.example.yaml" {
            assert!(listed.contains(&name), "{name} is in kustomization.yaml");
        }
        if doc["kind"] != "Namespace" {
            assert_eq!(doc["metadata"]["namespace"], "nbwarden", "{name}");
        }
    }
}

#[test]
fn the_deployment_runs_two_named_replicas_probed_on_healthz_as_a_locked_down_non_root_user() {
    let deployment = manifest("deployment.yaml");
    let spec = &deployment["spec"];
    assert_eq!(spec["replicas"], 2);
    let pod = &spec["template"]["spec"];
    let labels = &spec["template"]["metadata"]["labels"];
    assert_eq!(&spec["selector"]["matchLabels"], labels);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert!(pod["securityContext"]["runAsUser"].as_u64().unwrap() > 0);
    let container = &pod["containers"][0];
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"][0], "ALL");
    for probe in ["readinessProbe", "livenessProbe"] {
        assert_eq!(container[probe]["httpGet"]["path"], "/healthz", "{probe}");
        assert_eq!(container[probe]["httpGet"]["port"], "http", "{probe}");
    }
    assert_eq!(container["ports"][0]["containerPort"], 9187);
    let env = container["env"].as_array().unwrap();
    let var = |name: &str| env.iter().find(|e| e["name"] == name).unwrap_or_else(|| panic!("{name} is set")).clone();
    assert_eq!(var("NBWARDEN_REPLICA")["valueFrom"]["fieldRef"]["fieldPath"], "metadata.name");
    for secret in ["NBWARDEN_ARCGIS_PASSWORD", "NBWARDEN_SMTP_PASSWORD", "NBWARDEN_DB_PASSWORD"] {
        assert_eq!(var(secret)["valueFrom"]["secretKeyRef"]["name"], "nbwarden-secrets", "{secret}");
    }
    let mounts: Vec<&str> =
        container["volumeMounts"].as_array().unwrap().iter().map(|m| m["mountPath"].as_str().unwrap()).collect();
    assert!(mounts.contains(&"/etc/nbwarden") && mounts.contains(&"/etc/nbwarden-rules"), "{mounts:?}");
    let budget = manifest("pdb.yaml");
    assert_eq!(budget["kind"], "PodDisruptionBudget");
    assert_eq!(budget["spec"]["minAvailable"], 1);
    assert_eq!(&budget["spec"]["selector"]["matchLabels"], labels);
}

#[tokio::test]
async fn the_configmaps_configuration_and_rules_pass_check_and_match_the_shipped_rules() {
    let config = manifest("configmap.yaml");
    let yaml = config["data"]["nbwarden.yaml"].as_str().unwrap();
    assert!(!yaml.contains("password: change-me"), "no password in the ConfigMap");
    let rules = manifest("rules-configmap.yaml");
    let dir = tempfile::tempdir().unwrap();
    let rules_dir = dir.path().join("rules");
    std::fs::create_dir(&rules_dir).unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    for (name, body) in rules["data"].as_object().unwrap() {
        let body = body.as_str().unwrap();
        assert_eq!(std::fs::read_to_string(shipped.join(name)).unwrap(), body, "{name} is the file in rules/");
        std::fs::write(rules_dir.join(name), body).unwrap();
    }
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, "not read by check").unwrap();
    let local = yaml
        .replace("/etc/nbwarden-rules", rules_dir.to_str().unwrap())
        .replace("/etc/nbwarden-ca/ca.pem", ca.to_str().unwrap());
    let path = dir.path().join("nbwarden.yaml");
    std::fs::write(&path, local).unwrap();
    let env = [
        ("NBWARDEN_REPLICA", "nbwarden-7d9f-abcde"),
        ("NBWARDEN_ARCGIS_PASSWORD", "x"),
        ("NBWARDEN_SMTP_PASSWORD", "y"),
        ("NBWARDEN_DB_PASSWORD", "z"),
    ];
    let out = nbwarden(&["--config", path.to_str().unwrap(), "check"], &env).await;
    let said = text(&out.stdout);
    assert!(out.status.success(), "{said}{}", text(&out.stderr));
    assert!(said.contains("replicas: this one is \"nbwarden-7d9f-abcde\", leases last 15s"), "{said}");
    assert!(
        !said.contains("applies to no target with `tasks:`"),
        "the shipped task rules have a target to watch: {said}"
    );
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/kubernetes/README.md")).unwrap();
    assert!(!readme.contains("SPEC"), "the README cites only what ships with the repository");
}

#[test]
fn a_network_policy_lets_only_prometheus_reach_the_endpoint() {
    let policy = manifest("networkpolicy.yaml");
    assert_eq!(policy["kind"], "NetworkPolicy");
    let spec = &policy["spec"];
    let labels = &manifest("deployment.yaml")["spec"]["template"]["metadata"]["labels"];
    assert_eq!(&spec["podSelector"]["matchLabels"], labels, "it selects nbwarden's pods");
    assert_eq!(spec["policyTypes"], serde_json::json!(["Ingress", "Egress"]));
    let ingress = spec["ingress"].as_array().unwrap();
    assert_eq!(ingress.len(), 1, "one way in");
    assert_eq!(ingress[0]["ports"], serde_json::json!([{ "protocol": "TCP", "port": 9187 }]));
    assert!(ingress[0]["from"][0]["namespaceSelector"].is_object(), "from one namespace only");
}
