using AuroraNexus.Grains.Storage;
using AuroraNexus.Grains.Tenancy;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AuroraNexus.WebFront.Api;

/// <param name="Settings">The values to try (null fields keep the saved value).</param>
public sealed record SettingsPreviewBody(string? Question, SettingsBody? Settings);

public sealed record SettingsBody(
    int? RetrieveK,
    double? MmrLambda,
    double? FusionDenseWeight,
    string? SystemPrompt,
    int? LexicalCandidates = null,
    int? DenseCandidates = null,
    double? LexicalAccentStemWeight = null,
    double? FusionDocumentWeight = null,
    double? FusionLeadWeight = null,
    double? Bm25K1 = null,
    double? Bm25B = null)
{
    public static SettingsBody From(TenantSettings s) => new(
        s.RetrieveK, s.MmrLambda, s.DenseWeight, s.SystemPrompt, s.LexicalCandidates, s.DenseCandidates, s.AccentStemWeight,
        s.DocumentWeight, s.LeadWeight, s.Bm25K1, s.Bm25B);
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

        var tried = Apply(await grains.GetGrain<ITenantGrain>(caller.TenantId).GetSettingsAsync(ct), changes);
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
    };

    /// <summary>Validates and stores the given settings (null fields unchanged); the API's and the backoffice's path.</summary>
    public static async Task<Results<Ok<SettingsBody>, ProblemHttpResult>> SaveAsync(
        string tenant, SettingsBody body, SettingsRepository settings, IGrainFactory grains, CancellationToken ct)
    {
        if (Validate(body) is { } invalid)
        {
            return invalid;
        }

        if (body.RetrieveK is { } k)
        {
            await settings.SetAsync(tenant, SettingsRepository.RetrieveK, k, ct);
        }

        if (body.MmrLambda is { } lambda)
        {
            await settings.SetAsync(tenant, SettingsRepository.MmrLambda, lambda, ct);
        }

        if (body.FusionDenseWeight is { } w)
        {
            await settings.SetAsync(tenant, SettingsRepository.DenseWeight, w, ct);
        }

        if (body.SystemPrompt is { } prompt)
        {
            await settings.SetAsync(tenant, SettingsRepository.SystemPrompt, prompt, ct);
        }

        foreach (var (key, value) in new (string, object?)[]
                 {
                     (SettingsRepository.LexicalCandidates, body.LexicalCandidates),
                     (SettingsRepository.DenseCandidates, body.DenseCandidates),
                     (SettingsRepository.AccentStemWeight, body.LexicalAccentStemWeight),
                     (SettingsRepository.DocumentWeight, body.FusionDocumentWeight),
                     (SettingsRepository.LeadWeight, body.FusionLeadWeight),
                     (SettingsRepository.Bm25K1, body.Bm25K1),
                     (SettingsRepository.Bm25B, body.Bm25B),
                 })
        {
            if (value is not null)
            {
                await settings.SetAsync(tenant, key, value, ct);
            }
        }

        var grain = grains.GetGrain<ITenantGrain>(tenant);
        await grain.InvalidateAsync(ct);
        await grains.GetGrain<AuroraNexus.Grains.Conversation.IAnswerCacheGrain>(tenant).InvalidateAsync(ct);
        var s = await grain.GetSettingsAsync(ct);
        return TypedResults.Ok(SettingsBody.From(s));
    }

    /// <summary>The longest system_prompt a tenant may set: it is sent with every question, before the passages.</summary>
    public const int MaxSystemPromptLength = 8_000;

    /// <summary>The problem with the given settings (the ranges a save accepts), or null.</summary>
    public static ProblemHttpResult? Validate(SettingsBody body)
    {
        if (body.SystemPrompt is { Length: > MaxSystemPromptLength } prompt)
        {
            return Problems.Create(400, "invalid_setting",
                $"system_prompt must be at most {MaxSystemPromptLength} characters (it has {prompt.Length}): it goes with every question, before the passages.");
        }

        if (body.RetrieveK is < 4 or > 50)
        {
            return Problems.Create(400, "invalid_setting",
                "retrieve_k must be between 4 and 50 (an answer's outline has 4 to 8 sections, each grounded in a passage).");
        }

        if (body.MmrLambda is < 0 or > 1)
        {
            return Problems.Create(400, "invalid_setting", "mmr_lambda must be between 0 (diversity only) and 1 (relevance only).");
        }

        if (body.FusionDenseWeight is < 0 or > 10)
        {
            return Problems.Create(400, "invalid_setting", "fusion_dense_weight must be between 0 and 10.");
        }

        if (body.LexicalCandidates is < 1 or > 1000 || body.DenseCandidates is < 1 or > 1000)
        {
            return Problems.Create(400, "invalid_setting", "lexical_candidates and dense_candidates must be between 1 and 1000.");
        }

        if (body.LexicalAccentStemWeight is < 0 or > 10 || body.FusionDocumentWeight is < 0 or > 10 || body.FusionLeadWeight is < 0 or > 10)
        {
            return Problems.Create(400, "invalid_setting",
                "lexical_accent_stem_weight, fusion_document_weight and fusion_lead_weight must be between 0 (off) and 10.");
        }

        if (body.Bm25K1 is < 0 or > 10 || body.Bm25B is < 0 or > 1)
        {
            return Problems.Create(400, "invalid_setting", "bm25_k1 must be between 0 and 10, bm25_b between 0 and 1.");
        }

        return null;
    }
}
