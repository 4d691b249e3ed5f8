using System.Text.Json.Nodes;

namespace PaymentSlices.Tests.Reference;

/// <summary>
/// Checks a JSON value against an OpenAPI 3.1 schema (JSON Schema 2020-12): the subset the document uses
/// ($ref, type, enum, oneOf, anyOf, properties, required, additionalProperties, items, minLength/maxLength).
/// </summary>
public sealed class SchemaValidator(JsonObject document)
{
    private readonly JsonObject schemas = document["components"]!["schemas"]!.AsObject();

    public List<string> Validate(JsonNode? value, JsonNode schema, string path = "$")
    {
        var errors = new List<string>();
        Check(value, schema.AsObject(), path, errors);
        return errors;
    }

    private JsonObject Resolve(JsonObject schema)
    {
        while (schema["$ref"] is JsonValue reference)
        {
            var name = reference.GetValue<string>().Split('/').Last();
            schema = schemas[name]?.AsObject() ?? throw new InvalidOperationException($"Unresolved $ref {reference}");
        }

        return schema;
    }

    private void Check(JsonNode? value, JsonObject schema, string path, List<string> errors)
    {
        schema = Resolve(schema);
        if (schema["oneOf"] is JsonArray oneOf)
        {
            var matches = oneOf.Count(option => Validate(value, option!, path).Count == 0);
            if (matches != 1)
            {
                errors.Add($"{path}: matches {matches} of the oneOf options, not exactly one");
            }

            return;
        }

        if (schema["anyOf"] is JsonArray anyOf && !anyOf.Any(option => Validate(value, option!, path).Count == 0))
        {
            errors.Add($"{path}: matches none of the anyOf options");
            return;
        }

        var kind = KindOf(value);
        if (schema["type"] is { } type)
        {
            var allowed = type is JsonArray many ? many.Select(t => t!.GetValue<string>()).ToList() : [type.GetValue<string>()];
            var ok = allowed.Contains(kind) || (kind == "integer" && allowed.Contains("number"));
            if (!ok)
            {
                errors.Add($"{path}: is {kind}, the schema allows {string.Join("|", allowed)}");
                return;
            }
        }

        if (schema["enum"] is JsonArray values && value is not null && !values.Any(v => JsonNode.DeepEquals(v, value)))
        {
            errors.Add($"{path}: {value.ToJsonString()} is not one of {values.ToJsonString()}");
        }

        if (value is JsonValue text && kind == "string")
        {
            var length = text.GetValue<string>().Length;
            if (schema["minLength"] is { } min && length < min.GetValue<int>() || schema["maxLength"] is { } max && length > max.GetValue<int>())
            {
                errors.Add($"{path}: string length {length} is out of bounds");
            }
        }

        if (value is JsonObject obj)
        {
            var properties = schema["properties"]?.AsObject();
            foreach (var required in schema["required"]?.AsArray() ?? [])
            {
                if (!obj.ContainsKey(required!.GetValue<string>()))
                {
                    errors.Add($"{path}: missing required '{required}'");
                }
            }

            foreach (var (name, member) in obj)
            {
                if (properties?[name] is JsonObject propertySchema)
                {
                    Check(member, propertySchema, $"{path}.{name}", errors);
                }
                else if (schema["additionalProperties"] is JsonObject extra)
                {
                    Check(member, extra, $"{path}.{name}", errors);
                }
                else if (schema["additionalProperties"] is JsonValue allowedExtra && !allowedExtra.GetValue<bool>())
                {
                    errors.Add($"{path}: '{name}' is not in the schema");
                }
            }
        }

        if (value is JsonArray array && schema["items"] is JsonObject items)
        {
            for (var i = 0; i < array.Count; i++)
            {
                Check(array[i], items, $"{path}[{i}]", errors);
            }
        }
    }

    private static string KindOf(JsonNode? value) => value switch
    {
        null => "null",
        JsonObject => "object",
        JsonArray => "array",
        JsonValue v when v.TryGetValue<string>(out _) => "string",
        JsonValue v when v.TryGetValue<bool>(out _) => "boolean",
        JsonValue v when v.TryGetValue<decimal>(out var number) => number == decimal.Truncate(number) && !v.ToJsonString().Contains('.') ? "integer" : "number",
        _ => "unknown",
    };
}
