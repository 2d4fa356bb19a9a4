//! The simulated site over real HTTP, as Esri's servers answer (arcgis-api.md §3, §10).

use super::*;

const JOBS: &str = "jobs: [{ id: jrun, username: joe, start: -2h }]";

async fn serving(flavor: Flavor) -> SimulatorHandle {
    let scenario: Scenario = crate::config::yaml::from_str(JOBS).unwrap();
    Simulator::start(&scenario, flavor, "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

#[tokio::test]
async fn the_admin_directory_answers_html_without_f_json() {
    let site = serving(Flavor::Enterprise).await;
    let response = reqwest::get(format!("{}/notebooks/jobs", site.admin_url())).await.unwrap();
    assert!(response.headers()["content-type"].to_str().unwrap().contains("text/html"));
}

/// A token is taken from the `X-Esri-Authorization` header or a POST body, never from a GET
/// query (499), and only with the Referer it was issued for (498).
#[tokio::test]
async fn the_site_takes_tokens_only_from_the_header_or_a_post_body() {
    let site = serving(Flavor::Enterprise).await;
    let http = reqwest::Client::new();
    let form = [("username", "admin"), ("password", "simulator"), ("f", "json")];
    let token_url = format!("{}/sharing/rest/generateToken", site.portal_url());
    // Without `client`, the token is bound to the Referer the sign-in was sent with.
    let answer: serde_json::Value =
        http.post(&token_url).header("referer", "mine").form(&form).send().await.unwrap().json().await.unwrap();
    let token = answer["token"].as_str().unwrap().to_string();
    let jobs = format!("{}/notebooks/jobs", site.admin_url());
    let get = |query: Vec<(&'static str, String)>, referer: &'static str| {
        let request = http.get(&jobs).query(&query).header("referer", referer);
        async move { request.send().await.unwrap().json::<serde_json::Value>().await.unwrap() }
    };
    let in_query = get(vec![("f", "json".into()), ("token", token.clone())], "mine").await;
    assert_eq!(in_query["code"], 499, "a token in a GET query is not taken: {in_query}");
    let with_header = |referer: &'static str| {
        let bearer = format!("Bearer {token}");
        let request = http.get(&jobs).query(&[("f", "json")]).header("referer", referer);
        async move {
            request
                .header("x-esri-authorization", bearer)
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let listed = with_header("mine").await;
    assert!(listed["asyncNotebookJobs"].is_array(), "{listed}");
    let rebound = with_header("theirs").await;
    assert_eq!(rebound["code"], 498, "bound to the sign-in's Referer: {rebound}");
    let cancel = format!("{jobs}/jrun/cancel");
    let posted = http.post(&cancel).header("referer", "mine").form(&[("f", "json"), ("token", &token)]);
    let posted: serde_json::Value = posted.send().await.unwrap().json().await.unwrap();
    assert_eq!(posted["status"], "success", "a token in a POST body is taken: {posted}");
}

#[test]
fn routes_of_both_flavors() {
    use Endpoint::*;
    let table = [
        (Flavor::Enterprise, "/portal/admin/notebooks/jobs", List),
        (Flavor::Enterprise, "/portal/admin/notebooks/jobs/j1/cancel", Cancel("j1".into())),
        (Flavor::Enterprise, "/arcgis/admin/system/jobs", Unknown),
        (Flavor::NotebookServer, "/arcgis/admin/system/jobs/j%2E1", Job("j.1".into())),
        (Flavor::Enterprise, "/portal/admin/notebooks/jobs/a%2Fb", Unknown),
        (Flavor::Enterprise, "/portal/admin/notebooks/jobs/x/..%2F..%2Fjobs", List),
        (Flavor::NotebookServer, "/arcgis/admin/generateToken", AdminToken),
        (Flavor::NotebookServer, "/portal/sharing/rest/generateToken", PortalToken),
        (Flavor::NotebookServer, "/portal/sharing/rest/community/users/joe", User("joe".into())),
    ];
    for (flavor, path, expected) in table {
        assert_eq!(route(flavor, path), expected, "{path}");
    }
}
