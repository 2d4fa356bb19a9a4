//! TLS with a private CA: refused by default, trusted through `tls.ca_file`, or (loudly) skipped.

use crate::util::{tls_proxy, Site};
use nbwarden::arcgis::{Error, JobSource};
use nbwarden::config::Flavor;

async fn behind_tls(tls: &str) -> Site {
    let site = Site::start("jobs: [{ id: j1, start: -1m }]", Flavor::Enterprise, None, "{ timeout: 5s }").await;
    let proxy = tls_proxy(site.sim.addr()).await;
    let plain = format!("http://{}", site.sim.addr());
    let secure = format!("https://{proxy}");
    let text = std::fs::read_to_string(&site.config_path).unwrap().replace(&plain, &secure);
    std::fs::write(&site.config_path, text.replace("    poll:", &format!("    tls: {tls}\n    poll:"))).unwrap();
    site
}

#[tokio::test]
async fn an_untrusted_private_ca_is_refused_with_advice() {
    let site = behind_tls("{}").await;
    let error = site.client().list_jobs().await.unwrap_err();
    assert!(matches!(error, Error::Tls { .. }), "{error:?}");
    assert!(error.to_string().contains("tls.ca_file"), "{error}");
    assert_eq!(site.sim.stats().logins, 0);
}

#[tokio::test]
async fn ca_file_adds_the_private_ca() {
    let ca = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls/ca.pem");
    let site = behind_tls(&format!("{{ ca_file: '{ca}' }}")).await;
    assert_eq!(site.client().list_jobs().await.unwrap().len(), 1);
}

#[tokio::test]
async fn insecure_skip_verify_accepts_any_certificate() {
    let site = behind_tls("{ insecure_skip_verify: true }").await;
    assert_eq!(site.client().list_jobs().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_ca_file_that_is_not_pem_is_a_setup_error() {
    let site = behind_tls("{ ca_file: nbwarden.yaml }").await;
    let error = nbwarden::arcgis::Client::new(
        &site.config().targets[0],
        &nbwarden::arcgis::signin::SignIns::new(nbwarden::clock::system()),
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("tls.ca_file") && error.contains("PEM"), "{error}");
}
