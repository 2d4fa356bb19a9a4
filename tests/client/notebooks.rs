//! Open interactive notebooks over real HTTP against the simulator, on both flavors: every page
//! of Notebook Server's list (250 notebooks, 100 a page), Kubernetes' whole list, each notebook's
//! runtime and opening from its container or deployment, activity that moves, a notebook read
//! again, and `closeNotebook`.

use crate::util::Site;
use nbwarden::arcgis::notebooks::Host;
use nbwarden::config::Flavor;

fn scenario() -> String {
    let mut scenario = String::from("notebooks:\n");
    scenario += "  - { id: nb-idle, item_id: item1, title: Parcel cleanup, owner: joe, runtime: ArcGIS Notebook Python 3 Advanced, opened: -5h, active: -3h }\n";
    scenario += "  - { id: nb-busy, item_id: item2, title: Live dashboard, owner: jane, opened: -2h, active: -2h, active_every: 1s }\n";
    for n in 0..248 {
        scenario += &format!("  - {{ id: nb{n:03}, item_id: item{n:03}, owner: user{}, active: -1h }}\n", n % 7);
    }
    scenario
}

async fn reads_and_closes(flavor: Flavor) {
    let site = Site::simple(&scenario(), flavor).await;
    let client = site.client();
    let notebooks = client.open_notebooks().await.unwrap();
    assert_eq!(notebooks.len(), 250, "every page read");
    let idle = notebooks.iter().find(|n| n.id == "nb-idle").unwrap();
    let now = nbwarden::arcgis::JobSource::server_now(&client);
    let hours = |d: Option<std::time::Duration>| d.map(|d| (d.as_secs_f64() / 3600.0).round() as u64);
    assert_eq!((hours(idle.idle(now)), hours(idle.open_for(now))), (Some(3), Some(5)), "{idle:?}");
    assert_eq!(idle.runtime.as_deref(), Some("ArcGIS Notebook Python 3 Advanced"));
    assert_eq!((idle.username.as_str(), idle.item_id.as_deref()), ("joe", Some("item1")));
    match flavor {
        Flavor::Enterprise => {
            assert!(matches!(idle.host, Some(Host::Deployment(_))), "{idle:?}");
            assert_eq!(idle.title.as_deref(), Some("Parcel cleanup"), "Kubernetes gives the title");
        }
        Flavor::NotebookServer => {
            assert!(matches!(idle.host, Some(Host::Container(_))), "{idle:?}");
            assert_eq!(idle.title, None, "Notebook Server gives none: Portal does");
        }
    }
    let busy = notebooks.iter().find(|n| n.id == "nb-busy").unwrap().clone();
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let again = client.reread_notebook(&busy).await.unwrap().expect("still open");
    assert!(again.last_activity > busy.last_activity, "its activity moved: {busy:?} then {again:?}");
    assert_eq!(again.runtime, busy.runtime, "the host's facts are kept");

    client.close_notebook(idle).await.unwrap();
    assert_eq!(client.reread_notebook(idle).await.unwrap(), None, "closed: gone");
    let error = client.close_notebook(idle).await.unwrap_err();
    assert!(error.to_string().contains("not found"), "the server's message: {error}");
    assert_eq!(site.sim.stats().closes.get("nb-idle"), Some(&2));
    assert_eq!(client.open_notebooks().await.unwrap().len(), 249);
}

#[tokio::test]
async fn notebook_server_notebooks_are_read_page_by_page_and_closed() {
    reads_and_closes(Flavor::NotebookServer).await;
}

#[tokio::test]
async fn kubernetes_notebooks_are_read_with_their_deployments_and_closed() {
    reads_and_closes(Flavor::Enterprise).await;
}
