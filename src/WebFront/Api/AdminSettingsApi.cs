using AuroraNexus.Grains.Storage;
using AuroraNexus.Grains.Tenancy;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AuroraNexus.WebFront.Api;

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
    }

    /// <summary>Validates and stores the given settings (null fields unchanged); the API's and the backoffice's path.</summary>
    public static async Task<Results<Ok<SettingsBody>, ProblemHttpResult>> SaveAsync(
        string tenant, SettingsBody body, SettingsRepository settings, IGrainFactory grains, CancellationToken ct)
    {
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
}
