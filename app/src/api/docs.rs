//! `/api/docs`: the public API's documentation, rendered from the same
//! OpenAPI document `/api/v1/openapi.json` serves, as one HTML page made by
//! the binary (the site's own stylesheet; no script, nothing fetched from
//! anywhere else).

use serde_json::Value;

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// A schema as one short line: `Name`, `[Name]`, `string`, `integer?`.
fn type_name(schema: &Value) -> String {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        return r.rsplit('/').next().unwrap_or(r).to_string();
    }
    if let Some(any) = schema
        .get("oneOf")
        .or_else(|| schema.get("anyOf"))
        .and_then(Value::as_array)
    {
        let names: Vec<String> = any
            .iter()
            .filter(|s| text(s, "type") != "null")
            .map(type_name)
            .collect();
        return format!("{}?", names.join(" | "));
    }
    match schema.get("type") {
        Some(Value::String(t)) if t == "array" => {
            format!(
                "[{}]",
                schema.get("items").map(type_name).unwrap_or_default()
            )
        }
        Some(Value::String(t)) => {
            let mut t = t.clone();
            if let Some(e) = schema.get("enum").and_then(Value::as_array) {
                let vals: Vec<&str> = e.iter().filter_map(Value::as_str).collect();
                t = format!("{t} ({})", vals.join(", "));
            }
            t
        }
        Some(Value::Array(ts)) => {
            let non_null: Vec<&str> = ts
                .iter()
                .filter_map(Value::as_str)
                .filter(|t| *t != "null")
                .collect();
            let nullable = ts.iter().any(|t| t == "null");
            let base = if non_null == ["array"] {
                format!(
                    "[{}]",
                    schema.get("items").map(type_name).unwrap_or_default()
                )
            } else {
                non_null.join(" | ")
            };
            if nullable {
                format!("{base}?")
            } else {
                base
            }
        }
        _ => "object".into(),
    }
}

fn schema_table(name: &str, schema: &Value, out: &mut String) {
    out.push_str(&format!(
        "<section class=\"card\" id=\"schema-{0}\"><h3><code>{0}</code></h3>",
        esc(name)
    ));
    let desc = text(schema, "description");
    if !desc.is_empty() {
        out.push_str(&format!("<p>{}</p>", esc(desc)));
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        out.push_str("<table class=\"table\"><thead><tr><th>Field</th><th>Type</th><th>Required</th><th>Description</th></tr></thead><tbody>");
        for (field, p) in props {
            out.push_str(&format!(
                "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                esc(field),
                esc(&type_name(p)),
                if required.contains(&field.as_str()) {
                    "yes"
                } else {
                    ""
                },
                esc(text(p, "description")),
            ));
        }
        out.push_str("</tbody></table>");
    } else if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        let vals: Vec<String> = e
            .iter()
            .filter_map(Value::as_str)
            .map(|v| format!("<code>{}</code>", esc(v)))
            .collect();
        out.push_str(&format!("<p>One of {}.</p>", vals.join(", ")));
    }
    out.push_str("</section>");
}

pub fn render(doc: &utoipa::openapi::OpenApi) -> String {
    let v = serde_json::to_value(doc).unwrap_or_default();
    let info = &v["info"];
    let mut out = String::new();
    out.push_str("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    out.push_str(&format!(
        "<title>{} — documentation</title>",
        esc(text(info, "title"))
    ));
    out.push_str("<link rel=\"stylesheet\" href=\"/pkg/truevault.css\"></head><body><main class=\"container\">");
    out.push_str(&format!(
        "<h1>{} <span class=\"muted small\">{}</span></h1><p>{}</p>",
        esc(text(info, "title")),
        esc(text(info, "version")),
        esc(text(info, "description"))
    ));
    out.push_str("<p><a href=\"/api/v1/openapi.json\">OpenAPI 3.1 document (JSON)</a> · <a href=\"/account\">Make a key</a></p>");
    out.push_str("<h2>Operations</h2>");
    if let Some(paths) = v["paths"].as_object() {
        for (path, item) in paths {
            let Some(ops) = item.as_object() else {
                continue;
            };
            for (method, op) in ops {
                let scopes: Vec<String> = op["security"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.get("api_key").and_then(Value::as_array))
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect();
                out.push_str(&format!(
                    "<section class=\"card\" data-testid=\"operation\"><h3><code>{} {}</code></h3>",
                    esc(&method.to_uppercase()),
                    esc(path)
                ));
                let desc = text(op, "description");
                let summary = text(op, "summary");
                for t in [summary, desc] {
                    if !t.is_empty() {
                        out.push_str(&format!("<p>{}</p>", esc(t)));
                    }
                }
                if !scopes.is_empty() {
                    out.push_str(&format!(
                        "<p>Scope: <code>{}</code></p>",
                        esc(&scopes.join(", "))
                    ));
                }
                if let Some(params) = op["parameters"].as_array() {
                    out.push_str("<table class=\"table\"><thead><tr><th>Parameter</th><th>In</th><th>Type</th><th>Description</th></tr></thead><tbody>");
                    for p in params {
                        out.push_str(&format!(
                            "<tr><td><code>{}</code></td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                            esc(text(p, "name")),
                            esc(text(p, "in")),
                            esc(&p.get("schema").map(type_name).unwrap_or_default()),
                            esc(text(p, "description")),
                        ));
                    }
                    out.push_str("</tbody></table>");
                }
                if let Some(content) = op["requestBody"]["content"].as_object() {
                    for (ct, c) in content {
                        out.push_str(&format!(
                            "<p>Body ({}): <code>{}</code></p>",
                            esc(ct),
                            esc(&c.get("schema").map(type_name).unwrap_or_default())
                        ));
                    }
                }
                if let Some(responses) = op["responses"].as_object() {
                    out.push_str("<table class=\"table\"><thead><tr><th>Status</th><th>Body</th><th>Description</th></tr></thead><tbody>");
                    for (status, r) in responses {
                        let body = r["content"]
                            .as_object()
                            .and_then(|c| c.iter().next())
                            .map(|(ct, c)| {
                                format!(
                                    "{} {}",
                                    ct,
                                    c.get("schema").map(type_name).unwrap_or_default()
                                )
                            })
                            .unwrap_or_default();
                        out.push_str(&format!(
                            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                            esc(status),
                            esc(&body),
                            esc(text(r, "description"))
                        ));
                    }
                    out.push_str("</tbody></table>");
                }
                out.push_str("</section>");
            }
        }
    }
    out.push_str("<h2>Types</h2>");
    if let Some(schemas) = v["components"]["schemas"].as_object() {
        for (name, s) in schemas {
            schema_table(name, s, &mut out);
        }
    }
    out.push_str("</main></body></html>");
    out
}
