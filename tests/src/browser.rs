//! A headless Chromium driven over the Chrome DevTools Protocol, for the dashboard's
//! end-to-end test: navigate, evaluate JavaScript (to read the page and to fill in and submit
//! forms as a user would), and wait for a condition. It uses the system's `chromium` (Debian's
//! package); nothing is downloaded. The protocol is JSON over one WebSocket per page.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

/// The Chromium binary on this machine: `$CHROMIUM`, else `chromium`, `chromium-browser` or
/// `google-chrome` on the `PATH`.
pub fn find_chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM").map(PathBuf::from) {
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
}

/// A running headless browser with one page.
pub struct Browser {
    child: Child,
    ws: WebSocket<TcpStream>,
    next_id: u64,
    _profile: tempfile::TempDir,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser")
            .field("pid", &self.child.id())
            .finish()
    }
}

const STARTUP: Duration = Duration::from_secs(60);
const CALL: Duration = Duration::from_secs(60);

impl Browser {
    /// Starts `binary` headless with a fresh profile and connects to its first page.
    pub fn launch(binary: &std::path::Path) -> Result<Browser, String> {
        let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut child = Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("{} did not start: {e}", binary.display()))?;
        // Chromium names its DevTools endpoint on stderr; the rest of stderr is drained so the
        // browser never blocks on a full pipe.
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        let browser_ws = match rx.recv_timeout(STARTUP) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                return Err("Chromium did not open its DevTools endpoint".into());
            }
        };
        let port = browser_ws
            .strip_prefix("ws://127.0.0.1:")
            .and_then(|rest| rest.split('/').next())
            .ok_or_else(|| format!("unexpected DevTools address {browser_ws}"))?
            .to_string();
        let page_ws = Self::page_target(&port)?;
        let stream = TcpStream::connect(format!("127.0.0.1:{port}")).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(CALL))
            .map_err(|e| e.to_string())?;
        let (ws, _) = tungstenite::client(page_ws.as_str(), stream)
            .map_err(|e| format!("DevTools WebSocket: {e}"))?;
        let mut browser = Browser {
            child,
            ws,
            next_id: 0,
            _profile: profile,
        };
        browser.call("Page.enable", json!({}))?;
        browser.call("Runtime.enable", json!({}))?;
        Ok(browser)
    }

    /// The WebSocket address of the browser's first page.
    fn page_target(port: &str) -> Result<String, String> {
        let deadline = Instant::now() + STARTUP;
        loop {
            let list: Result<Value, String> =
                reqwest::blocking::get(format!("http://127.0.0.1:{port}/json/list"))
                    .and_then(|r| r.text())
                    .map_err(|e| e.to_string())
                    .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()));
            if let Ok(Value::Array(targets)) = list {
                if let Some(url) = targets
                    .iter()
                    .find(|t| t["type"] == "page")
                    .and_then(|t| t["webSocketDebuggerUrl"].as_str())
                {
                    return Ok(url.to_string());
                }
            }
            if Instant::now() > deadline {
                return Err("Chromium has no page to drive".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends one protocol command and returns its result (events on the way are skipped).
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        let msg = json!({ "id": id, "method": method, "params": params }).to_string();
        self.ws
            .send(Message::text(msg))
            .map_err(|e| format!("{method}: {e}"))?;
        loop {
            let msg = self.ws.read().map_err(|e| format!("{method}: {e}"))?;
            let Ok(text) = msg.to_text() else { continue };
            let Ok(v) = serde_json::from_str::<Value>(text) else {
                continue;
            };
            if v["id"] != id {
                continue;
            }
            if let Some(e) = v.get("error") {
                return Err(format!("{method}: {e}"));
            }
            return Ok(v["result"].clone());
        }
    }

    /// The value of a JavaScript expression in the page.
    pub fn eval(&mut self, expression: &str) -> Result<Value, String> {
        let r = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
        )?;
        if let Some(e) = r.get("exceptionDetails") {
            return Err(format!("{expression}: {e}"));
        }
        Ok(r["result"]["value"].clone())
    }

    /// Waits until `condition` (a JavaScript expression) is true in a fully loaded page.
    pub fn wait_for(&mut self, condition: &str) -> Result<(), String> {
        let deadline = Instant::now() + CALL;
        let expr = format!("document.readyState === 'complete' && !!({condition})");
        loop {
            // A page being replaced has no context for a moment: that is "not yet".
            if self.eval(&expr).ok() == Some(Value::Bool(true)) {
                return Ok(());
            }
            if Instant::now() > deadline {
                let at = self.eval("location.href").unwrap_or_default();
                return Err(format!("timed out waiting for {condition} (at {at})"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Opens `url` and waits until its page has loaded.
    pub fn goto(&mut self, url: &str) -> Result<(), String> {
        self.call("Page.navigate", json!({ "url": url }))?;
        self.wait_for("location.href !== 'about:blank'")
    }

    /// The current path (`location.pathname`).
    pub fn path(&mut self) -> Result<String, String> {
        Ok(self
            .eval("location.pathname")?
            .as_str()
            .unwrap_or("")
            .to_string())
    }

    /// The page's visible text.
    pub fn text(&mut self) -> Result<String, String> {
        Ok(self
            .eval("document.body ? document.body.innerText : ''")?
            .as_str()
            .unwrap_or("")
            .to_string())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.ws.close(None);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
