//! A raw HTTP server on loopback that answers every request with fixed bytes, or never answers.

use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves `response` (a whole HTTP response) to every request; `None` accepts and never answers.
pub async fn serve(response: Option<&'static str>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 16 * 1024];
                let _ = socket.read(&mut buffer).await;
                match response {
                    Some(text) => {
                        let _ = socket.write_all(text.as_bytes()).await;
                        let _ = socket.shutdown().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            });
        }
    });
    addr
}

/// A proxy's HTML error page.
pub const BAD_GATEWAY: &str = "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nContent-Length: 91\r\nConnection: close\r\n\r\n<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>";

/// Serves a job list `size` bytes long to every request, made as it is sent (the server never
/// holds it): with `Content-Length` announced, or without (the body ends when the connection does).
pub async fn serve_huge(size: u64, announce: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 16 * 1024];
                let _ = socket.read(&mut buffer).await;
                let length = if announce { format!("Content-Length: {size}\r\n") } else { String::new() };
                let head =
                    format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{length}Connection: close\r\n\r\n");
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let opening = b"{\"asyncNotebookJobs\":[";
                let _ = socket.write_all(opening).await;
                let chunk = vec![b' '; 64 * 1024];
                let mut sent = opening.len() as u64;
                while sent < size {
                    let n = chunk.len().min((size - sent) as usize);
                    if socket.write_all(&chunk[..n]).await.is_err() {
                        return;
                    }
                    sent += n as u64;
                }
            });
        }
    });
    addr
}

/// Answers every request with an error envelope whose message is `message`.
pub async fn serve_envelope(message: String) -> SocketAddr {
    let body = serde_json::json!({ "error": { "code": 500, "message": message } }).to_string();
    let response: &'static str = Box::leak(
        format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
            .into_boxed_str(),
    );
    serve(Some(response)).await
}
