using System.Buffers;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using AuroraNexus.Grains.Storage;
using AuroraNexus.Grains.Tenancy;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AuroraNexus.WebFront.Api;

/// <param name="Settings">The values to try (null fields keep the saved value).</param>
public sealed record SettingsPreviewBody(string? Question, SettingsBody? Settings);

public sealed record SettingsBody(
    [property: JsonConverter(typeof(SettingInt))] int? RetrieveK,
    [property: JsonConverter(typeof(SettingReal))] double? MmrLambda,
    [property: JsonConverter(typeof(SettingReal))] double? FusionDenseWeight,
    string? SystemPrompt,
    [property: JsonConverter(typeof(SettingInt))] int? LexicalCandidates = null,
    [property: JsonConverter(typeof(SettingInt))] int? DenseCandidates = null,
    [property: JsonConverter(typeof(SettingReal))] double? LexicalAccentStemWeight = null,
    [property: JsonConverter(typeof(SettingReal))] double? FusionDocumentWeight = null,
    [property: JsonConverter(typeof(SettingReal))] double? FusionLeadWeight = null,
    [property: JsonConverter(typeof(SettingReal))] double? Bm25K1 = null,
    [property: JsonConverter(typeof(SettingReal))] double? Bm25B = null,
    [property: JsonConverter(typeof(SettingInt))] int? CacheTtlMinutes = null,
    [property: JsonConverter(typeof(SettingInt))] int? CacheMaxEntries = null,
    [property: JsonConverter(typeof(SettingReal))] double? LexicalAsideWeight = null)
{
    public static SettingsBody From(TenantSettings s) => new(
        s.RetrieveK, s.MmrLambda, s.DenseWeight, s.SystemPrompt, s.LexicalCandidates, s.DenseCandidates, s.AccentStemWeight,
        s.DocumentWeight, s.LeadWeight, s.Bm25K1, s.Bm25B, s.CacheTtlMinutes, s.CacheMaxEntries, s.AsideWeight);
}

/// <summary>
/// A number setting as sent, even one the JSON reader would refuse (1e400 overflows to infinity; "NaN" and "Infinity"
/// are read from strings): the settings validation then names the setting instead of the body being unreadable.
/// </summary>
internal sealed class SettingReal : JsonConverter<double?>
{
    public override double? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => ReadNumber(ref reader);

    public static double ReadNumber(ref Utf8JsonReader reader)
    {
        var text = reader.TokenType switch
        {
            JsonTokenType.String => reader.GetString(),
            JsonTokenType.Number => System.Text.Encoding.UTF8.GetString(reader.HasValueSequence ? reader.ValueSequence.ToArray() : reader.ValueSpan),
            _ => null,
        };
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new JsonException("not a number");
    }

    public override void Write(Utf8JsonWriter writer, double? value, JsonSerializerOptions options)
    {
        if (value is { } v)
        {
            writer.WriteNumberValue(v);
        }
        else
        {
            writer.WriteNullValue();
        }
    }
}

/// <summary>A whole-number setting as sent; NaN or one beyond the range of an int reads as a bound, which validation refuses by name.</summary>
internal sealed class SettingInt : JsonConverter<int?>
{
    public override int? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var real = SettingReal.ReadNumber(ref reader);
        if (double.IsFinite(real) && Math.Floor(real) != real)
        {
            throw new JsonException("not a whole number");
        }

        return double.IsNaN(real) ? int.MinValue : (int)Math.Clamp(real, int.MinValue, int.MaxValue);
    }

    public override void Write(Utf8JsonWriter writer, int? value, JsonSerializerOptions options)
    {
        if (value is { } v)
        {
            writer.WriteNumberValue(v);
        }
        else
        {
            writer.WriteNullValue();
        }
    }
}

/// <summary>The tenant's retrieval settings (admin only). A change takes effect on the next query of any silo.</summary>
public static class AdminSettingsApi
{
    public static void MapAdminSettingsApi(this WebApplication app)
    {
        var group = app.MapGroup("/api/admin/settings").RequireAuthorization("admin");
        group.MapGet("", static async (HttpContext http, IGrainFactory grains, CancellationToken ct) =>
        {
            var s = await grains.GetGrain<ITenantGrain>(Caller.From(http.User).TenantId).GetSettingsAsync(ct);
            return TypedResults.Ok(SettingsBody.From(s));
        });
        group.MapPut("", static (SettingsBody body, HttpContext http, SettingsRepository settings, IGrainFactory grains, CancellationToken ct) =>
            SaveAsync(Caller.From(http.User).TenantId, body, settings, grains, ct));
        group.MapPost("/preview", static async Task<Results<Ok<QueryResponse>, ProblemHttpResult>> (
            SettingsPreviewBody body, HttpContext http, IGrainFactory grains, CancellationToken ct) =>
        {
            try
            {
                return await PreviewAsync(Caller.From(http.User), body, grains, ct);
            }
            catch (AuroraNexus.Grains.Llm.LlmException ex)
            {
                return Problems.FromLlm(http, ex);
            }
        });
    }

    /// <summary>The caller app of previews in queries_log, apart from the apps' own questions.</summary>
    public const string PreviewCallerApp = "backoffice-preview";

    /// <summary>
    /// "Test this setting": the question answered with the given settings over the saved ones (null fields keep the
    /// saved value), validated as a save would be, through the query path itself, and nothing saved. A one-off thread,
    /// so that a preview never becomes a follow-up of a real conversation. The API's and the backoffice's path.
    /// Cache values are validated but not tried: the cache is the tenant's own, and a preview must not shrink or empty it.
    /// </summary>
    public static async Task<Results<Ok<QueryResponse>, ProblemHttpResult>> PreviewAsync(
        Caller caller, SettingsPreviewBody body, IGrainFactory grains, CancellationToken ct)
    {
        var changes = body.Settings ?? new SettingsBody(null, null, null, null);
        if (Validate(changes) is { } invalid)
        {
            return invalid;
        }

        var query = new QueryBody(body.Question, PreviewCallerApp, Guid.NewGuid().ToString("N"), null);
        if (QueryApi.Prepare(caller, query, out var key, out var request) is { } problem)
        {
            return problem;
        }

        var saved = await grains.GetGrain<ITenantGrain>(caller.TenantId).GetSettingsAsync(ct);
        var tried = Apply(saved, changes) with { CacheTtlMinutes = saved.CacheTtlMinutes, CacheMaxEntries = saved.CacheMaxEntries };
        return TypedResults.Ok(await QueryApi.AskAsync(grains.GetGrain<AuroraNexus.Grains.Conversation.IThreadGrain>(key.ToString()),
            request with { Settings = tried }, ct));
    }

    /// <summary>The saved settings with the given fields in their place (null fields unchanged).</summary>
    public static TenantSettings Apply(TenantSettings saved, SettingsBody body) => saved with
    {
        RetrieveK = body.RetrieveK ?? saved.RetrieveK,
        MmrLambda = body.MmrLambda ?? saved.MmrLambda,
        DenseWeight = body.FusionDenseWeight ?? saved.DenseWeight,
        SystemPrompt = body.SystemPrompt ?? saved.SystemPrompt,
        LexicalCandidates = body.LexicalCandidates ?? saved.LexicalCandidates,
        DenseCandidates = body.DenseCandidates ?? saved.DenseCandidates,
        AccentStemWeight = body.LexicalAccentStemWeight ?? saved.AccentStemWeight,
        DocumentWeight = body.FusionDocumentWeight ?? saved.DocumentWeight,
        LeadWeight = body.FusionLeadWeight ?? saved.LeadWeight,
        Bm25K1 = body.Bm25K1 ?? saved.Bm25K1,
        Bm25B = body.Bm25B ?? saved.Bm25B,
        CacheTtlMinutes = body.CacheTtlMinutes ?? saved.CacheTtlMinutes,
        CacheMaxEntries = body.CacheMaxEntries ?? saved.CacheMaxEntries,
        AsideWeight = body.LexicalAsideWeight ?? saved.AsideWeight,
    };

    /// <summary>Validates and stores the given settings (null fields unchanged); the API's and the backoffice's path.</summary>
    public static async Task<Results<Ok<SettingsBody>, ProblemHttpResult>> SaveAsync(
        string tenant, SettingsBody body, SettingsRepository settings, IGrainFactory grains, CancellationToken ct)
    {
        if (Validate(body) is { } invalid)
        {
            return invalid;
        }

        var values = new (string Key, object? Value)[]
        {
            (SettingsRepository.RetrieveK, body.RetrieveK),
            (SettingsRepository.MmrLambda, body.MmrLambda),
            (SettingsRepository.DenseWeight, body.FusionDenseWeight),
            (SettingsRepository.SystemPrompt, body.SystemPrompt),
            (SettingsRepository.LexicalCandidates, body.LexicalCandidates),
            (SettingsRepository.DenseCandidates, body.DenseCandidates),
            (SettingsRepository.AccentStemWeight, body.LexicalAccentStemWeight),
            (SettingsRepository.DocumentWeight, body.FusionDocumentWeight),
            (SettingsRepository.LeadWeight, body.FusionLeadWeight),
            (SettingsRepository.Bm25K1, body.Bm25K1),
            (SettingsRepository.Bm25B, body.Bm25B),
            (SettingsRepository.CacheTtlMinutes, body.CacheTtlMinutes),
            (SettingsRepository.CacheMaxEntries, body.CacheMaxEntries),
            (SettingsRepository.AsideWeight, body.LexicalAsideWeight),
        };
        await settings.SetAllAsync(tenant, [.. values.Where(v => v.Value is not null).Select(v => (v.Key, v.Value!))], ct);

        var grain = grains.GetGrain<ITenantGrain>(tenant);
        await grain.InvalidateAsync(ct);
        await grains.GetGrain<AuroraNexus.Grains.Conversation.IAnswerCacheGrain>(tenant).InvalidateAsync(ct);
        var s = await grain.GetSettingsAsync(ct);
        return TypedResults.Ok(SettingsBody.From(s));
    }

    /// <summary>The longest system_prompt a tenant may set: it is sent with every question, before the passages.</summary>
    public const int MaxSystemPromptLength = 8_000;

    /// <summary>The longest an answer may be served from the cache: one week.</summary>
    public const int MaxCacheTtlMinutes = 10_080;

    /// <summary>The problem with the given settings (the ranges a save accepts), or null.</summary>
    public static ProblemHttpResult? Validate(SettingsBody body)
    {
        if (body.SystemPrompt is { Length: > MaxSystemPromptLength } prompt)
        {
            return Invalid("system_prompt",
                $"system_prompt must be at most {MaxSystemPromptLength} characters (it has {prompt.Length}): it goes with every question, before the passages.");
        }

        if (body.RetrieveK is < 4 or > 50)
        {
            return Invalid("retrieve_k",
                "retrieve_k must be between 4 and 50 (an answer's outline has 4 to 8 sections, each grounded in a passage).");
        }

        if (Outside(body.MmrLambda, 0, 1))
        {
            return Invalid("mmr_lambda", "mmr_lambda must be a number between 0 (diversity only) and 1 (relevance only).");
        }

        if (Outside(body.FusionDenseWeight, 0, 10))
        {
            return Invalid("fusion_dense_weight", "fusion_dense_weight must be a number between 0 and 10.");
        }

        if (body.LexicalCandidates is < 1 or > 1000)
        {
            return Invalid("lexical_candidates", "lexical_candidates must be between 1 and 1000.");
        }

        if (body.DenseCandidates is < 1 or > 1000)
        {
            return Invalid("dense_candidates", "dense_candidates must be between 1 and 1000.");
        }

        foreach (var (name, value) in new[]
                 {
                     ("lexical_accent_stem_weight", body.LexicalAccentStemWeight), ("fusion_document_weight", body.FusionDocumentWeight),
                     ("fusion_lead_weight", body.FusionLeadWeight),
                 })
        {
            if (Outside(value, 0, 10))
            {
                return Invalid(name, $"{name} must be a number between 0 (off) and 10.");
            }
        }

        if (Outside(body.LexicalAsideWeight, 0, 1))
        {
            return Invalid("lexical_aside_weight",
                "lexical_aside_weight must be a number between 0 (words in parentheses ignored when the rest has words) and 1 (counted like the rest).");
        }

        if (Outside(body.Bm25K1, 0, 10))
        {
            return Invalid("bm25_k1", "bm25_k1 must be a number between 0 and 10.");
        }

        if (Outside(body.Bm25B, 0, 1))
        {
            return Invalid("bm25_b", "bm25_b must be a number between 0 and 1.");
        }

        if (body.CacheTtlMinutes is < 0 or > MaxCacheTtlMinutes)
        {
            return Invalid("cache_ttl_minutes",
                $"cache_ttl_minutes must be a whole number of minutes between 0 (no answer cache) and {MaxCacheTtlMinutes} (one week).");
        }

        if (body.CacheMaxEntries is < 10 or > 100_000)
        {
            return Invalid("cache_max_entries", "cache_max_entries must be a whole number between 10 and 100000.");
        }

        return null;
    }

    /// <summary>Set and not a finite number within [min, max] (NaN and infinities included).</summary>
    private static bool Outside(double? value, double min, double max) =>
        value is { } v && !(double.IsFinite(v) && v >= min && v <= max);

    /// <summary>invalid_setting, with the setting's API name in <c>setting</c>.</summary>
    private static ProblemHttpResult Invalid(string setting, string detail)
    {
        var problem = Problems.Create(400, "invalid_setting", detail);
        problem.ProblemDetails.Extensions["setting"] = setting;
        return problem;
    }
}
