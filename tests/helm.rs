//! charts/kexpose with the real helm (helm 4, installed once from PyPI by
//! tests/tools/install.py): lint and template with default and non-default
//! values, and the rendered objects checked against each other.

mod common;

use std::path::PathBuf;
use std::process::Output;

use serde_json::Value;

fn helm(args: &[&str]) -> Output {
    std::process::Command::new(common::tool("helm"))
        .current_dir(common::root())
        .args(args)
        .env(
            "HELM_CACHE_HOME",
            std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("kexpose-helm-cache"),
        )
        .env(
            "HELM_CONFIG_HOME",
            std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("kexpose-helm-config"),
        )
        .output()
        .unwrap()
}

/// `helm template` of the chart into kexpose-system, with `extra` values.
fn helm_template(extra: &[&str]) -> Output {
    let mut args = vec![
        "template",
        "kexpose",
        "charts/kexpose",
        "--namespace",
        "kexpose-system",
    ];
    args.extend_from_slice(extra);
    helm(&args)
}

fn template(extra: &[&str]) -> Vec<Value> {
    let out = helm_template(extra);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    common::documents(&String::from_utf8(out.stdout).unwrap())
}

fn find<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind}"))
}

fn values_file(name: &str, text: &str) -> PathBuf {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("kexpose-helm-{name}-{}.yaml", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn lint_passes_and_the_values_schema_refuses_nonsense() {
    let out = helm(&["lint", "charts/kexpose", "--strict"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    for bad in [
        "replicaCount=two",
        "webhook.validate.failurePolicy=Maybe",
        "webhook.validate.timeoutSeconds=60",
        "logFormat=xml",
    ] {
        let out = helm(&["lint", "charts/kexpose", "--set", bad]);
        assert!(!out.status.success(), "{bad} passed lint");
    }
    // The TLS source is explicit, and contradictory choices are refused
    // by values.schema.json before anything renders.
    let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    let ca = format!("tls.caBundle={pem}");
    for (bad, why) in [
        (
            &["--set", "tls.source=secret"][..],
            "secret without secretName or caBundle",
        ),
        (
            &["--set", "tls.source=secret", "--set", "tls.secretName=mine"][..],
            "secret without caBundle",
        ),
        (
            &["--set", "tls.source=secret", "--set", &ca][..],
            "secret without secretName",
        ),
        (
            &[
                "--set",
                "tls.source=secret",
                "--set",
                "tls.secretName=mine",
                "--set",
                "tls.caBundle=x",
            ][..],
            "a caBundle that is not PEM",
        ),
        (
            &["--set", &ca][..],
            "certManager with a caBundle it would ignore",
        ),
        (
            &[
                "--set",
                "tls.source=secret",
                "--set",
                "tls.secretName=mine",
                "--set",
                &ca,
                "--set",
                "tls.certManager.issuerRef.name=corp-ca",
            ][..],
            "secret with a cert-manager issuer",
        ),
        (&["--set", "tls.source=vault"][..], "an unknown source"),
        (
            &["--set", "tls.certManager.enabled=false"][..],
            "the old switch",
        ),
    ] {
        let mut args = vec!["lint", "--strict", "charts/kexpose"];
        args.extend_from_slice(bad);
        let out = helm(&args);
        assert!(!out.status.success(), "{why} passed lint");
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            said.contains("values don't meet the specifications of the schema"),
            "{why}: {said}"
        );
    }
    let ok = helm(&[
        "lint",
        "--strict",
        "charts/kexpose",
        "--set",
        "tls.source=secret",
        "--set",
        "tls.secretName=mine",
        "--set",
        &ca,
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
}

/// Scale-out: replicas spread over nodes and zones by default, and an
/// optional CPU autoscaler that then owns the replica count.
#[test]
fn replicas_spread_and_can_autoscale() {
    let docs = template(&[]);
    let deployment = find(&docs, "Deployment");
    assert_eq!(deployment["spec"]["replicas"], 2);
    let spread = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
        .as_array()
        .unwrap();
    let keys: Vec<&str> = spread
        .iter()
        .map(|c| c["topologyKey"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        ["kubernetes.io/hostname", "topology.kubernetes.io/zone"]
    );
    assert!(
        spread
            .iter()
            .all(|c| c["whenUnsatisfiable"] == "ScheduleAnyway"
                && c["labelSelector"]["matchLabels"]["app.kubernetes.io/name"] == "kexpose")
    );
    assert!(!docs.iter().any(|d| d["kind"] == "HorizontalPodAutoscaler"));

    let scaled = template(&[
        "--set",
        "autoscaling.enabled=true",
        "--set",
        "autoscaling.maxReplicas=9",
        "--set",
        "priorityClassName=system-cluster-critical",
    ]);
    let hpa = find(&scaled, "HorizontalPodAutoscaler");
    assert_eq!(hpa["spec"]["minReplicas"], 2);
    assert_eq!(hpa["spec"]["maxReplicas"], 9);
    assert_eq!(
        hpa["spec"]["scaleTargetRef"]["name"],
        find(&scaled, "Deployment")["metadata"]["name"]
    );
    assert_eq!(
        hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
        70
    );
    let deployment = find(&scaled, "Deployment");
    assert!(
        deployment["spec"].get("replicas").is_none(),
        "the autoscaler owns it"
    );
    assert_eq!(
        deployment["spec"]["template"]["spec"]["priorityClassName"],
        "system-cluster-critical"
    );
    let lint = helm(&[
        "lint",
        "--strict",
        "charts/kexpose",
        "--set",
        "autoscaling.enabled=true",
    ]);
    assert!(
        lint.status.success(),
        "{}",
        String::from_utf8_lossy(&lint.stdout)
    );
    let out = helm(&[
        "template",
        "kexpose",
        "charts/kexpose",
        "--set",
        "autoscaling.enabled=true",
        "--set",
        "autoscaling.minReplicas=5",
        "--set",
        "autoscaling.maxReplicas=3",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("minReplicas must not exceed"));
}

/// A terminating pod drains before it stops: the drain delay reaches the
/// container, and a grace period too short for drain and shutdown is refused.
#[test]
fn the_drain_delay_fits_in_the_grace_period() {
    let docs = template(&["--set", "drainDelay=7"]);
    let pod = &find(&docs, "Deployment")["spec"]["template"]["spec"];
    let env = pod["containers"][0]["env"].as_array().unwrap();
    assert!(
        env.iter()
            .any(|e| e["name"] == "KEXPOSE_DRAIN_DELAY" && e["value"] == "7"),
        "{env:?}"
    );
    assert_eq!(pod["terminationGracePeriodSeconds"], 30);
    let out = helm(&[
        "template",
        "kexpose",
        "charts/kexpose",
        "--set",
        "drainDelay=15",
        "--set",
        "shutdownGrace=20",
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("terminationGracePeriodSeconds must exceed drainDelay + shutdownGrace"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// With cert-manager, `tls.secretName` names the Secret it writes (it used
/// to be ignored): the Certificate and the Deployment agree on it.
#[test]
fn cert_manager_writes_the_secret_that_is_named() {
    let docs = template(&["--set", "tls.secretName=webhook-serving"]);
    assert_eq!(
        find(&docs, "Certificate")["spec"]["secretName"],
        "webhook-serving"
    );
    let volumes = &find(&docs, "Deployment")["spec"]["template"]["spec"]["volumes"];
    let tls = volumes
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "tls")
        .unwrap();
    assert_eq!(tls["secret"]["secretName"], "webhook-serving");
    let defaults = template(&[]);
    assert_eq!(
        find(&defaults, "Certificate")["spec"]["secretName"],
        "kexpose-tls"
    );
}

#[test]
fn default_values_wire_webhooks_service_and_certificate_together() {
    let docs = template(&[]);
    let service = find(&docs, "Service");
    let name = service["metadata"]["name"].as_str().unwrap();
    assert_eq!(name, "kexpose");
    let https_port = service["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "https")
        .unwrap()["port"]
        .clone();

    let certificate = find(&docs, "Certificate");
    let dns: Vec<&str> = certificate["spec"]["dnsNames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert!(dns.contains(&"kexpose.kexpose-system.svc"), "{dns:?}");
    assert_eq!(
        find(&docs, "Issuer")["spec"]["selfSigned"],
        serde_json::json!({})
    );
    assert_eq!(
        certificate["spec"]["issuerRef"]["name"],
        find(&docs, "Issuer")["metadata"]["name"]
    );

    for (kind, path, failure) in [
        ("ValidatingWebhookConfiguration", "/validate", "Fail"),
        ("MutatingWebhookConfiguration", "/mutate", "Ignore"),
    ] {
        let config = find(&docs, kind);
        assert_eq!(
            config["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
            format!(
                "kexpose-system/{}",
                certificate["metadata"]["name"].as_str().unwrap()
            )
        );
        let hook = &config["webhooks"][0];
        let svc = &hook["clientConfig"]["service"];
        assert_eq!(svc["name"], name);
        assert_eq!(svc["namespace"], "kexpose-system");
        assert_eq!(svc["path"], path);
        assert_eq!(svc["port"], https_port);
        // The name the apiserver dials is one the certificate carries.
        let dialed = format!(
            "{}.{}.svc",
            svc["name"].as_str().unwrap(),
            svc["namespace"].as_str().unwrap()
        );
        assert!(dns.contains(&dialed.as_str()));
        assert_eq!(hook["failurePolicy"], failure);
        assert_eq!(hook["sideEffects"], "None");
        assert_eq!(hook["timeoutSeconds"], 5);
        assert_eq!(hook["matchPolicy"], "Equivalent");
        assert_eq!(hook["admissionReviewVersions"], serde_json::json!(["v1"]));
        assert_eq!(
            hook["rules"][0]["resources"],
            serde_json::json!(["apirules"])
        );
        assert_eq!(
            hook["rules"][0]["apiGroups"],
            serde_json::json!(["gateway.kyma-project.io"])
        );
        let excluded = &hook["namespaceSelector"]["matchExpressions"][0];
        assert_eq!(excluded["operator"], "NotIn");
        assert_eq!(
            excluded["values"],
            serde_json::json!(["kube-system", "kexpose-system"])
        );
    }

    let deployment = find(&docs, "Deployment");
    assert_eq!(deployment["spec"]["replicas"], 2);
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    assert!(pod["affinity"]["podAntiAffinity"].is_object());
    let c = &pod["containers"][0];
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(
        c["securityContext"]["capabilities"]["drop"],
        serde_json::json!(["ALL"])
    );
    assert_eq!(c["livenessProbe"]["httpGet"]["port"], "health");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert!(c["resources"]["requests"].is_object() && c["resources"]["limits"].is_object());
    let tls = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "tls")
        .unwrap();
    assert_eq!(
        tls["secret"]["secretName"],
        certificate["spec"]["secretName"]
    );
    let env: Vec<&str> = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(env.contains(&"KEXPOSE_TLS_DIR") && env.contains(&"KEXPOSE_POLICY"));
    assert_eq!(
        find(&docs, "PodDisruptionBudget")["spec"]["minAvailable"],
        1
    );

    // The policy the chart mounts is one kexpose accepts.
    let policy = find(&docs, "ConfigMap")["data"]["policy.yaml"]
        .as_str()
        .unwrap();
    let parsed = kexpose::policy::Policy::parse(policy).unwrap();
    assert_eq!(
        parsed.default_gateway.as_deref(),
        Some("kyma-system/kyma-gateway")
    );
    // No lock unless one is given.
    assert!(
        find(&docs, "ConfigMap")["data"]
            .get("kexpose.lock")
            .is_none()
    );
    let env = &find(&docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["env"];
    assert!(
        !env.as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "KEXPOSE_LOCK")
    );
    assert!(
        !docs
            .iter()
            .any(|d| d["kind"] == "ServiceMonitor" || d["kind"] == "NetworkPolicy")
    );
}

#[test]
fn non_default_values_bring_their_own_certificate_and_extras() {
    let values = values_file(
        "custom",
        "replicaCount: 3\n\
         tls:\n  source: secret\n  secretName: my-webhook-tls\n  caBundle: |\n    -----BEGIN CERTIFICATE-----\n    MIIB\n    -----END CERTIFICATE-----\n\
         webhook:\n  validate:\n    failurePolicy: Ignore\n    timeoutSeconds: 3\n  excludeNamespaces: [istio-system]\n\
         serviceMonitor:\n  enabled: true\n  labels: {release: prometheus}\n\
         networkPolicy:\n  enabled: true\n\
         podDisruptionBudget:\n  enabled: false\n\
         lock: |\n  apiVersion: kexpose.dev/v1alpha1\n  kind: Lock\n  issuers:\n    https://id.example.com:\n      jwksUri: https://id.example.com/keys\n      keyIds: [k1]\n      fetchedAt: 2026-11-30T09:00:00Z\n",
    );
    let docs = template(&["--values", values.to_str().unwrap()]);
    std::fs::remove_file(values).unwrap();
    assert!(
        !docs
            .iter()
            .any(|d| d["kind"] == "Certificate" || d["kind"] == "Issuer")
    );
    assert!(!docs.iter().any(|d| d["kind"] == "PodDisruptionBudget"));
    let hook = &find(&docs, "ValidatingWebhookConfiguration")["webhooks"][0];
    assert_eq!(hook["failurePolicy"], "Ignore");
    assert_eq!(hook["timeoutSeconds"], 3);
    let bundle = hook["clientConfig"]["caBundle"].as_str().unwrap();
    assert!(
        bundle.starts_with("LS0tLS1CRUdJTi"),
        "base64 of the PEM: {bundle}"
    );
    assert_eq!(
        hook["namespaceSelector"]["matchExpressions"][0]["values"],
        serde_json::json!(["kube-system", "kexpose-system", "istio-system"])
    );
    let pod = &find(&docs, "Deployment")["spec"]["template"]["spec"];
    assert_eq!(find(&docs, "Deployment")["spec"]["replicas"], 3);
    let tls = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "tls")
        .unwrap();
    assert_eq!(tls["secret"]["secretName"], "my-webhook-tls");
    let monitor = find(&docs, "ServiceMonitor");
    assert_eq!(monitor["metadata"]["labels"]["release"], "prometheus");
    assert_eq!(monitor["spec"]["endpoints"][0]["port"], "metrics");
    let netpol = find(&docs, "NetworkPolicy");
    assert_eq!(netpol["spec"]["egress"], serde_json::json!([]));

    // The lock is mounted beside the policy, and kexpose reads it.
    let lock = find(&docs, "ConfigMap")["data"]["kexpose.lock"]
        .as_str()
        .unwrap();
    let parsed = kexpose::identity::lock::Lock::parse(lock).unwrap();
    assert_eq!(
        parsed.jwks_uri("https://id.example.com"),
        Some("https://id.example.com/keys")
    );
    let env = pod["containers"][0]["env"].as_array().unwrap();
    assert!(
        env.iter().any(
            |e| e["name"] == "KEXPOSE_LOCK" && e["value"] == "/etc/kexpose/policy/kexpose.lock"
        ),
        "{env:?}"
    );
}

/// `enforcement`: `policy` installs what `kexpose policy export` wrote and
/// nothing of the webhook (no Deployment, no certificates); `both` installs
/// both. With the values inline nothing else comes; with a ConfigMap, the
/// ConfigMap comes without the export's Namespace, which is the release's.
/// A missing export, one reading its parameters from another namespace,
/// or static manifests, is refused with the command that makes the right
/// one.
#[test]
fn enforcement_by_admission_policies() {
    let export = |name: &str, args: &[&str]| {
        let mut all = vec!["--kube-version", "1.36"];
        all.extend(args);
        values_file(&format!("export-{name}"), &common::policy_export(&all))
    };
    let inline = export("inline", &[]);
    let inline = template(&[
        "--set",
        "enforcement=policy",
        "--set-file",
        &format!("admissionPolicy={}", inline.display()),
    ]);
    assert!(
        inline
            .iter()
            .all(|d| d["kind"] != "ConfigMap" && d["kind"] != "Namespace")
    );
    assert!(
        inline
            .iter()
            .any(|d| d["kind"] == "ValidatingAdmissionPolicy")
    );
    let ours = export(
        "kexpose-system",
        &["--params", "configmap", "--namespace", "kexpose-system"],
    );
    let file = format!("admissionPolicy={}", ours.display());
    let kinds = |docs: &[Value]| {
        let mut k: Vec<String> = docs
            .iter()
            .map(|d| d["kind"].as_str().unwrap().to_owned())
            .collect();
        k.sort();
        k.dedup();
        k
    };
    let policy = template(&["--set", "enforcement=policy", "--set-file", &file]);
    assert_eq!(
        kinds(&policy),
        [
            "ConfigMap",
            "MutatingAdmissionPolicy",
            "MutatingAdmissionPolicyBinding",
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding"
        ]
    );
    let params = find(&policy, "ConfigMap");
    assert_eq!(params["metadata"]["name"], "kexpose-policy");
    assert_eq!(params["metadata"]["namespace"], "kexpose-system");
    let both = template(&["--set", "enforcement=both", "--set-file", &file]);
    for kind in [
        "Deployment",
        "ValidatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
    ] {
        find(&both, kind);
    }
    assert_eq!(
        kinds(&template(&[])),
        kinds(&template(&[
            "--set",
            "enforcement=webhook",
            "--set-file",
            &file
        ]))
    );

    let refused = |extra: &[&str]| {
        let out = helm_template(extra);
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let missing = refused(&["--set", "enforcement=policy"]);
    assert!(missing.contains("enforcement policy needs admissionPolicy: pass the output of `kexpose policy export --policy POLICY --kube-version 1.MINOR`"), "{missing}");
    let elsewhere = format!(
        "admissionPolicy={}",
        export("other", &["--params", "configmap", "--namespace", "other"]).display()
    );
    let wrong = refused(&["--set", "enforcement=policy", "--set-file", &elsewhere]);
    assert!(
        wrong.contains("export it with --params configmap --namespace kexpose-system"),
        "{wrong}"
    );
    let fixed = format!(
        "admissionPolicy={}",
        export("static", &["--static"]).display()
    );
    let static_ = refused(&["--set", "enforcement=policy", "--set-file", &fixed]);
    assert!(static_.contains("export it without --static"), "{static_}");
    let typo = refused(&["--set", "enforcement=policies"]);
    assert!(typo.contains("enforcement"), "{typo}");
}
