//! The deployment, checked offline: `containers/compose.yaml` against the
//! Compose specification's schema (PyPI check-jsonschema's vendored copy),
//! `containers/k8s/` against Kubernetes' own schemas (PyPI
//! kubernetes-validate, strict), and what the files say against Bevara
//! itself: the settings they set exist, the grace period covers the drain,
//! the probes answer, the ConfigMaps hold the repository's files, and the
//! image's health check works on a running server.

mod common;

use common::bevara;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The venv with check-jsonschema and kubernetes-validate (installed by
/// `containers/setup-debian.sh --tests`).
fn venv() -> PathBuf {
    let v = PathBuf::from(
        std::env::var("BEVARA_TEST_DEPLOY_VENV")
            .unwrap_or_else(|_| "/opt/bevara-test/deploy".into()),
    );
    assert!(
        v.join("bin/kubernetes-validate").is_file(),
        "{}/bin/kubernetes-validate not found: run `bash containers/setup-debian.sh --tests`",
        v.display()
    );
    v
}

fn run(cmd: &Path, args: &[&str]) -> (bool, String) {
    let o = Command::new(cmd).args(args).output().unwrap();
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

/// Every YAML document of the files as JSON, read with PyYAML.
fn yaml_docs(venv: &Path, files: &[PathBuf]) -> Vec<serde_json::Value> {
    let script = "import json, sys, yaml\nfor f in sys.argv[1:]:\n    for d in yaml.safe_load_all(open(f)):\n        if d is not None:\n            print(json.dumps(d))\n";
    let mut args = vec!["-c".to_string(), script.to_string()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    let o = Command::new(venv.join("bin/python"))
        .args(&args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The env var names of the README's configuration table.
fn documented_vars() -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    readme
        .lines()
        .filter(|l| l.starts_with("| `"))
        .filter_map(|l| l.split('|').nth(2))
        .map(|c| c.trim().trim_matches('`').to_string())
        .filter(|c| c.starts_with("BEVARA_"))
        .collect()
}

#[test]
fn compose_file_is_valid_and_says_what_bevara_reads() {
    let venv = venv();
    let compose = root().join("containers/compose.yaml");
    let (ok, said) = run(
        &venv.join("bin/check-jsonschema"),
        &[
            "--builtin-schema",
            "vendor.compose-spec",
            compose.to_str().unwrap(),
        ],
    );
    assert!(ok, "{said}");
    let c = &yaml_docs(&venv, &[compose])[0];
    let services = c["services"].as_object().unwrap();
    for s in ["postgres", "minio", "minio-init", "migrate", "web"] {
        assert!(services.contains_key(s), "no {s} service");
    }
    let workers: Vec<&serde_json::Value> = services
        .values()
        .filter(|s| s["command"] == serde_json::json!(["worker"]))
        .collect();
    assert!(workers.len() >= 2, "two workers");
    let documented = documented_vars();
    for (name, s) in services {
        let Some(cmd) = s["command"].as_array() else {
            continue;
        };
        if s["image"].as_str() != Some("localhost/bevara:latest") {
            continue;
        }
        assert_eq!(s["read_only"], true, "{name}: read-only root filesystem");
        for (k, _) in s["environment"].as_object().unwrap() {
            assert!(
                documented.contains(k),
                "{name} sets {k}, which Bevara does not read"
            );
        }
        // Secrets are files, mounted where the *_FILE settings look.
        for sec in s["secrets"].as_array().unwrap() {
            let sec = sec.as_str().unwrap();
            assert!(c["secrets"][sec]["file"].is_string(), "{sec} is a file");
        }
        if cmd == &[serde_json::json!("worker")] {
            assert_eq!(
                s["stop_grace_period"], "330s",
                "{name}: the drain and the upload"
            );
            assert!(s["healthcheck"]["test"].to_string().contains("/readyz"));
        }
    }
    // The migrations run first.
    assert_eq!(
        services["web"]["depends_on"]["migrate"]["condition"],
        "service_completed_successfully"
    );
    // The mounted folders are the repository's.
    for v in services["worker-1"]["volumes"].as_array().unwrap() {
        let host = v.as_str().unwrap().split(':').next().unwrap();
        if host.starts_with("..") {
            assert!(root().join("containers").join(host).is_dir(), "{host}");
        }
    }
}

#[test]
fn kubernetes_manifests_are_valid_and_match_bevara() {
    let venv = venv();
    let k8s = root().join("containers/k8s");
    let files: Vec<PathBuf> = [
        "config.yaml",
        "configmap-schedules.yaml",
        "configmap-profiles.yaml",
        "worker.yaml",
        "web.yaml",
        "hpa.yaml",
        "migrate-job.yaml",
        "secret.example.yaml",
        "optional/prometheus-adapter-rules.yaml",
    ]
    .iter()
    .map(|f| k8s.join(f))
    .collect();
    let mut args = vec!["--strict", "-k", "1.30.0"];
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    args.extend(names.iter().map(String::as_str));
    let (ok, said) = run(&venv.join("bin/kubernetes-validate"), &args);
    assert!(ok && !said.contains("ERROR"), "{said}");

    let docs = yaml_docs(&venv, &files);
    let kind = |k: &str, n: &str| {
        docs.iter()
            .find(|d| d["kind"] == k && d["metadata"]["name"] == n)
            .unwrap_or_else(|| panic!("no {k} {n}"))
    };
    let env = &kind("ConfigMap", "bevara-env")["data"];
    let documented = documented_vars();
    for (k, _) in env.as_object().unwrap() {
        assert!(
            documented.contains(k),
            "bevara-env sets {k}, which Bevara does not read"
        );
    }
    let drain: u64 = env["BEVARA_WORKER_DRAIN_SECS"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let worker = &kind("StatefulSet", "bevara-worker")["spec"]["template"]["spec"];
    assert_eq!(worker["terminationGracePeriodSeconds"], drain + 30);
    for (name, d) in [
        ("worker", worker),
        (
            "web",
            &kind("Deployment", "bevara-web")["spec"]["template"]["spec"],
        ),
    ] {
        let c = &d["containers"][0];
        assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz", "{name}");
        assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz", "{name}");
        assert!(
            c["resources"]["limits"]["memory"].is_string(),
            "{name} limits"
        );
        assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
        assert_eq!(d["securityContext"]["runAsNonRoot"], true);
        // Secrets mounted as files where the settings look.
        assert!(c["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["mountPath"] == "/run/secrets/bevara"));
    }
    assert_eq!(
        worker["containers"][0]["resources"]["requests"]["memory"], "2Gi",
        "Chromium's measured peak (1.7 GB) fits the request"
    );
    let hpa = kind("HorizontalPodAutoscaler", "bevara-worker");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["kind"], "StatefulSet");
    assert_eq!(
        hpa["spec"]["metrics"][0]["external"]["metric"]["name"], "bevara_queue_depth",
        "a metric the worker exports"
    );
    // The adapter's rule makes that metric out of what the workers export.
    let rules = kind("ConfigMap", "prometheus-adapter-bevara")["data"]["config.yaml"]
        .as_str()
        .unwrap();
    assert!(
        rules.contains("seriesQuery: 'bevara_queue_depth'"),
        "{rules}"
    );
    assert!(rules.contains("as: \"bevara_queue_depth\""), "{rules}");
    let secret = kind("Secret", "bevara");
    for f in [
        "BEVARA_DATABASE_URL_FILE",
        "BEVARA_STORE_SECRET_ACCESS_KEY_FILE",
        "BEVARA_SESSION_KEY_FILE",
    ] {
        let path = env[f].as_str().unwrap();
        let key = path.rsplit('/').next().unwrap();
        assert!(
            secret["stringData"][key].is_string(),
            "{f} names a key of the Secret"
        );
    }

    // The ConfigMaps hold the repository's schedules and profiles, as the
    // generator writes them.
    let out = tempfile::tempdir().unwrap();
    let o = Command::new("bash")
        .arg(k8s.join("configmaps.sh"))
        .arg(out.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in ["configmap-schedules.yaml", "configmap-profiles.yaml"] {
        assert_eq!(
            std::fs::read_to_string(out.path().join(f)).unwrap(),
            std::fs::read_to_string(k8s.join(f)).unwrap(),
            "{f} is out of step: run bash containers/k8s/configmaps.sh"
        );
    }
    let schedules = &kind("ConfigMap", "bevara-schedules")["data"];
    for e in std::fs::read_dir(root().join("schedules"))
        .unwrap()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        assert_eq!(
            schedules[&name].as_str().unwrap(),
            std::fs::read_to_string(e.path()).unwrap(),
            "{name}"
        );
    }
}

/// `bevara migrate` with the URL from a file (a mounted secret), `/readyz`
/// of a running server, and the image's health check command against it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_readiness_and_the_health_check() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = d.join("elsewhere.sqlite");
    let url_file = d.join("database_url");
    std::fs::write(&url_file, format!("sqlite://{}?mode=rwc\n", db.display())).unwrap();
    let env = [("BEVARA_DATABASE_URL_FILE", url_file.to_str().unwrap())];
    let r = bevara(d, &env, &["migrate"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("the sqlite database is migrated"),
        "{}",
        r.stdout
    );
    assert!(db.is_file(), "the URL came from the file");
    let r = bevara(
        d,
        &[("BEVARA_DATABASE_URL_FILE", "/nonexistent/url")],
        &["migrate"],
    )
    .await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("database.url_file"), "{}", r.stderr);

    let (addr, mut server) = common::http::serve_bevara(d, &env).await;
    let ready = common::http::call(&addr, "GET", "/readyz", None, None).await;
    assert_eq!(ready.status, 200);
    assert_eq!(String::from_utf8_lossy(&ready.body), "ready\n");
    // The Containerfile's HEALTHCHECK, pointed at this server's port.
    let file = std::fs::read_to_string(root().join("containers/Containerfile")).unwrap();
    let line = file
        .lines()
        .find(|l| l.contains("CMD [\"bash\""))
        .expect("a HEALTHCHECK in the Containerfile");
    let json = line.trim().trim_start_matches("CMD ").trim();
    let cmd: Vec<String> = serde_json::from_str(json).unwrap();
    let port = addr.rsplit(':').next().unwrap();
    let script = cmd[2].replace("9464", port);
    let ok = Command::new(&cmd[0])
        .args([&cmd[1], &script])
        .status()
        .unwrap();
    assert!(ok.success(), "{script}");
    let bad = Command::new(&cmd[0])
        .args([
            &cmd[1],
            &cmd[2].replace("9464", "9").replace("/healthz", "/nope"),
        ])
        .status()
        .unwrap();
    assert!(!bad.success(), "the check fails where nothing answers");
    server.kill().await.ok();
}
