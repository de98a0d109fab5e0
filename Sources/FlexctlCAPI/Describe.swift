import FlexRuntime

/// The JSON of `flexctl_model_describe` (schema version 1, snake_case keys, fields in a fixed order):
///
///     {"schema_version": 1, "name": …, "task": "image-autoencoder" | "forecaster", "fingerprint": "sha256:…",
///      "format_version": 1, "flexctl_version": …, "parameters": N,
///      "input_shape": [C, H, W] | [window, features], "code_shape": [C, H, W] | null, "output_shape": […],
///      "activations": [{"slot": …, "layer": i, "member": …, "units": n}, …],
///      "image": {"channels", "height", "width", "pixel_scaling"} | null,
///      "series": {"features": […], "targets": […], "window", "horizon", "transform"} | null}
let describeSchemaVersion = 1

func describe(_ h: ModelHandle) -> String {
    func ints(_ v: [Int]) -> String { "[" + v.map(String.init).joined(separator: ", ") + "]" }
    func strings(_ v: [String]) -> String { "[" + v.map(JSONText.string).joined(separator: ", ") + "]" }
    let model = h.model
    var fields: [(String, String)] = [
        ("schema_version", String(describeSchemaVersion)),
        ("name", JSONText.string(h.name)),
        ("task", JSONText.string(h.task.rawValue)),
        ("fingerprint", JSONText.string(h.fingerprint)),
        ("format_version", String(h.formatVersion)),
        ("flexctl_version", JSONText.string(h.flexctlVersion)),
        ("parameters", String(model.layers.reduce(0) { $0 + $1.parameterCount })),
        ("input_shape", ints(model.inputShape)),
    ]
    switch h.engine {
    case let .codec(codec): fields.append(("code_shape", ints(codec.session.codeShape)))
    case .forecaster: fields.append(("code_shape", "null"))
    }
    fields.append(("output_shape", ints(model.outputShape)))
    let slots = model.activationStatistics(bins: 1).map { a in
        "{\"slot\": \(JSONText.string(a.path)), \"layer\": \(a.layer), \"member\": \(JSONText.string(a.member)), "
            + "\"units\": \(a.units)}"
    }
    fields.append(("activations", "[" + slots.joined(separator: ", ") + "]"))
    switch h.input {
    case let .image(s):
        fields.append(("image", "{\"channels\": \(s.channels), \"height\": \(s.height), \"width\": \(s.width), "
            + "\"pixel_scaling\": \(JSONText.string(s.pixelScaling.rawValue))}"))
        fields.append(("series", "null"))
    case let .series(s):
        fields.append(("image", "null"))
        fields.append(("series", "{\"features\": \(strings(s.features)), \"targets\": \(strings(s.targets)), "
            + "\"window\": \(s.window), \"horizon\": \(s.horizon), \"transform\": \(JSONText.string(s.transform.rawValue))}"))
    }
    return "{" + fields.map { "\(JSONText.string($0.0)): \($0.1)" }.joined(separator: ", ") + "}"
}
