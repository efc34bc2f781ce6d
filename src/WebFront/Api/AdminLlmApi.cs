using System.Collections.Immutable;
using AuroraNexus.Grains.Hosting;
using AuroraNexus.Grains.Llm;
using AuroraNexus.Grains.Storage;
using AuroraNexus.Grains.Tenancy;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AuroraNexus.WebFront.Api;

public sealed record ProviderBody(Guid Id, string Name, string Kind, string BaseUrl, DateTimeOffset CreatedAt);

public sealed record ProviderInput(string? Name, string? Kind, string? BaseUrl);

public sealed record ModelBody(Guid Id, Guid ProviderId, string Model, bool IsDefault, DateTimeOffset CreatedAt);

public sealed record ModelInput(Guid? ProviderId, string? Model, bool? IsDefault);

public sealed record CredentialInput(Guid? ProviderId, string? Label, string? ApiKey);

public sealed record CredentialSaved(CredentialView Credential, ImmutableArray<string> Warnings);

public sealed record CredentialListBody(ImmutableArray<CredentialView> Credentials, LlmRoute Route);

/// <summary>
/// The tenant's providers, models and credentials (admin role). Secrets go in once and never come out: listings show
/// the last 4 characters. Every change invalidates the tenant grain, so the next call on any silo uses it.
/// </summary>
public static class AdminLlmApi
{
    public static void MapAdminLlmApi(this WebApplication app)
    {
        var providers = app.MapGroup("/api/admin/providers").RequireAuthorization("admin");
        providers.MapGet("", static async (HttpContext http, LlmCatalogRepository repo, CancellationToken ct) =>
            TypedResults.Ok((await repo.ListProvidersAsync(Tenant(http), ct)).Select(ToBody).ToImmutableArray()));

        providers.MapPost("", static (
            ProviderInput? body, HttpContext http, LlmCatalogRepository repo, IGrainFactory grains, NexusSettings settings,
            CancellationToken ct) => CreateProviderAsync(Tenant(http), body, repo, grains, settings, ct));

        providers.MapPut("/{id:guid}", static (
            Guid id, ProviderInput? body, HttpContext http, LlmCatalogRepository repo, IGrainFactory grains, NexusSettings settings,
            CancellationToken ct) => UpdateProviderAsync(Tenant(http), id, body, repo, grains, settings, ct));

        providers.MapDelete("/{id:guid}", static (
            Guid id, HttpContext http, LlmCatalogRepository repo, IGrainFactory grains, CancellationToken ct) =>
            DeleteProviderAsync(Tenant(http), id, repo, grains, ct));

        var models = app.MapGroup("/api/admin/models").RequireAuthorization("admin");
        models.MapGet("", static async (HttpContext http, LlmCatalogRepository repo, CancellationToken ct) =>
            TypedResults.Ok((await repo.ListModelsAsync(Tenant(http), ct)).Select(ToBody).ToImmutableArray()));

        models.MapPost("", static (
            ModelInput? body, HttpContext http, LlmCatalogRepository repo, IGrainFactory grains, CancellationToken ct) =>
            CreateModelAsync(Tenant(http), body, repo, grains, ct));

        models.MapPut("/{id:guid}/default", static (
            Guid id, HttpContext http, LlmCatalogRepository repo, IGrainFactory grains, CancellationToken ct) =>
            SetDefaultModelAsync(Tenant(http), id, repo, grains, ct));

        models.MapDelete("/{id:guid}", static (
            Guid id, HttpContext http, LlmCatalogRepository repo, IGrainFactory grains, CancellationToken ct) =>
            DeleteModelAsync(Tenant(http), id, repo, grains, ct));

        var credentials = app.MapGroup("/api/admin/providers/credentials").RequireAuthorization("admin");
        credentials.MapGet("", static (
            HttpContext http, LlmCatalogRepository repo, CredentialVault vault, IGrainFactory grains, CancellationToken ct) =>
            ListCredentialsAsync(Tenant(http), repo, vault, grains, ct));

        credentials.MapGet("/{id:guid}", static async Task<Results<Ok<CredentialView>, ProblemHttpResult>> (
            Guid id, HttpContext http, LlmCatalogRepository repo, CredentialVault vault, CancellationToken ct) =>
        {
            var tenant = Tenant(http);
            var row = await repo.GetCredentialAsync(tenant, id, ct);
            if (row is null)
            {
                return CredentialNotFound(id);
            }

            var provider = await repo.GetProviderAsync(tenant, row.ProviderId, ct);
            return TypedResults.Ok(vault.Describe(row, provider?.Name ?? "?"));
        });

        credentials.MapPost("", static (
            CredentialInput? body, HttpContext http, LlmCatalogRepository repo, CredentialVault vault, IGrainFactory grains,
            CancellationToken ct) => CreateCredentialAsync(Tenant(http), body, repo, vault, grains, ct));

        credentials.MapPut("/{id:guid}", static (
            Guid id, CredentialInput? body, HttpContext http, LlmCatalogRepository repo, CredentialVault vault, IGrainFactory grains,
            CancellationToken ct) => UpdateCredentialAsync(Tenant(http), id, body, repo, vault, grains, ct));

        credentials.MapDelete("/{id:guid}", static async Task<Results<NoContent, ProblemHttpResult>> (
            Guid id, HttpContext http, LlmCatalogRepository repo, IGrainFactory grains, CancellationToken ct) =>
        {
            var tenant = Tenant(http);
            if (!await repo.DeleteCredentialAsync(tenant, id, ct))
            {
                return CredentialNotFound(id);
            }

            await grains.GetGrain<ITenantGrain>(tenant).InvalidateAsync(ct);
            return TypedResults.NoContent();
        });

        credentials.MapPost("/{id:guid}/test", static (
            Guid id, HttpContext http, LlmCatalogRepository repo, IGrainFactory grains, CancellationToken ct) =>
            TestCredentialAsync(Tenant(http), id, repo, grains, ct));
    }

    /// <summary>Renames a provider or changes its kind or address (null fields unchanged); the API's and the backoffice's path.</summary>
    public static async Task<Results<Ok<ProviderBody>, ProblemHttpResult>> UpdateProviderAsync(
        string tenant, Guid id, ProviderInput? body, LlmCatalogRepository repo, IGrainFactory grains, NexusSettings settings,
        CancellationToken ct)
    {
        var name = body?.Name?.Trim();
        if (name is not null && NameProblem(name) is { } nameProblem)
        {
            return nameProblem;
        }

        string? baseUrl = null;
        if (body?.BaseUrl is not null)
        {
            if (BaseUrlProblem(body.BaseUrl, out var normalized) is { } urlProblem)
            {
                return Problems.Create(400, "invalid_base_url", urlProblem);
            }

            if (await EndpointGuard.ProblemAsync(normalized, settings.AllowPrivateLlmUrls, ct) is { } guard)
            {
                return Problems.Create(400, "base_url_not_allowed", guard);
            }

            baseUrl = normalized;
        }

        string? kind = null;
        if (body?.Kind is not null && (kind = KindOf(body.Kind, baseUrl ?? "")) is null)
        {
            return Problems.Create(400, "provider_kind_invalid", "kind must be openrouter or openai_compatible.");
        }

        ProviderRow? row;
        try
        {
            row = await repo.UpdateProviderAsync(tenant, id, name, kind, baseUrl, ct);
        }
        catch (Npgsql.PostgresException ex) when (ex.SqlState == Npgsql.PostgresErrorCodes.UniqueViolation)
        {
            return Problems.Create(409, "provider_exists", $"A provider named '{name}' already exists in your tenant.");
        }

        if (row is null)
        {
            return ProviderNotFound(id);
        }

        await grains.GetGrain<ITenantGrain>(tenant).InvalidateAsync(ct);
        return TypedResults.Ok(ToBody(row));
    }

    /// <summary>Deletes a provider that the default model does not run on; the API's and the backoffice's path.</summary>
    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteProviderAsync(
        string tenant, Guid id, LlmCatalogRepository repo, IGrainFactory grains, CancellationToken ct)
    {
        if ((await repo.ListModelsAsync(tenant, ct)).FirstOrDefault(m => m.IsDefault && m.ProviderId == id) is { } inUse)
        {
            return Problems.Create(409, "provider_in_use",
                $"The tenant's default model '{inUse.Model}' runs on this provider; choose another default model first (PUT /api/admin/models/{{id}}/default).");
        }

        if (!await repo.DeleteProviderAsync(tenant, id, ct))
        {
            return ProviderNotFound(id);
        }

        await grains.GetGrain<ITenantGrain>(tenant).InvalidateAsync(ct);
        return TypedResults.NoContent();
    }

    /// <summary>Deletes a model of the tenant; the API's and the backoffice's path.</summary>
    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteModelAsync(
        string tenant, Guid id, LlmCatalogRepository repo, IGrainFactory grains, CancellationToken ct)
    {
        if (!await repo.DeleteModelAsync(tenant, id, ct))
        {
            return ModelNotFound(id);
        }

        await grains.GetGrain<ITenantGrain>(tenant).InvalidateAsync(ct);
        return TypedResults.NoContent();
    }

    /// <summary>Adds an LLM endpoint of the tenant (public addresses only unless ops allow private ones).</summary>
    public static async Task<Results<Created<ProviderBody>, ProblemHttpResult>> CreateProviderAsync(
        string tenant, ProviderInput? body, LlmCatalogRepository repo, IGrainFactory grains, NexusSettings settings,
        CancellationToken ct)
    {
        var name = body?.Name?.Trim();
        if (NameProblem(name) is { } nameProblem)
        {
            return nameProblem;
        }

        if (BaseUrlProblem(body!.BaseUrl, out var baseUrl) is { } urlProblem)
        {
            return Problems.Create(400, "invalid_base_url", urlProblem);
        }

        if (await EndpointGuard.ProblemAsync(baseUrl, settings.AllowPrivateLlmUrls, ct) is { } guard)
        {
            return Problems.Create(400, "base_url_not_allowed", guard);
        }

        if (KindOf(body.Kind, baseUrl) is not { } kind)
        {
            return Problems.Create(400, "provider_kind_invalid", "kind must be openrouter or openai_compatible.");
        }

        var row = await repo.CreateProviderAsync(tenant, name!, kind, baseUrl, ct);
        if (row is null)
        {
            return Problems.Create(409, "provider_exists", $"A provider named '{name}' already exists in your tenant.");
        }

        await grains.GetGrain<ITenantGrain>(tenant).InvalidateAsync(ct);
        return TypedResults.Created($"/api/admin/providers/{row.Id}", ToBody(row));
    }

    /// <summary>Lists a provider's model for the tenant, as its default model when asked.</summary>
    public static async Task<Results<Created<ModelBody>, ProblemHttpResult>> CreateModelAsync(
        string tenant, ModelInput? body, LlmCatalogRepository repo, IGrainFactory grains, CancellationToken ct)
    {
        var model = body?.Model?.Trim();
        if (string.IsNullOrEmpty(model) || model.Length > 200 || model.Any(char.IsWhiteSpace))
        {
            return Problems.Create(400, "model_invalid", "Send the provider's model id as \"model\", e.g. openai/gpt-4o-mini.");
        }

        if (body!.ProviderId is not { } providerId || await repo.GetProviderAsync(tenant, providerId, ct) is null)
        {
            return Problems.Create(404, "provider_not_found", "Send \"provider_id\" of one of your providers (GET /api/admin/providers).");
        }

        var row = await repo.CreateModelAsync(tenant, providerId, model, body.IsDefault ?? false, ct);
        if (row is null)
        {
            return Problems.Create(409, "model_exists", $"The model '{model}' is already listed for that provider.");
        }

        await grains.GetGrain<ITenantGrain>(tenant).InvalidateAsync(ct);
        return TypedResults.Created($"/api/admin/models/{row.Id}", ToBody(row));
    }

    /// <summary>Makes a model the one that answers for the tenant.</summary>
    public static async Task<Results<Ok<ModelBody>, ProblemHttpResult>> SetDefaultModelAsync(
        string tenant, Guid id, LlmCatalogRepository repo, IGrainFactory grains, CancellationToken ct)
    {
        var row = await repo.SetDefaultModelAsync(tenant, id, ct);
        if (row is null)
        {
            return ModelNotFound(id);
        }

        await grains.GetGrain<ITenantGrain>(tenant).InvalidateAsync(ct);
        return TypedResults.Ok(ToBody(row));
    }

    /// <summary>The tenant's credentials, masked, with whether the configured key reads them, and the route that answers.</summary>
    public static async Task<CredentialListBody> ListCredentialsAsync(
        string tenant, LlmCatalogRepository repo, CredentialVault vault, IGrainFactory grains, CancellationToken ct)
    {
        var names = (await repo.ListProvidersAsync(tenant, ct)).ToDictionary(p => p.Id, p => p.Name);
        var views = (await repo.ListCredentialsAsync(tenant, ct))
            .Select(c => vault.Describe(c, names.GetValueOrDefault(c.ProviderId, "?"))).ToImmutableArray();
        var route = await grains.GetGrain<ITenantGrain>(tenant).GetRouteAsync(ct);
        return new CredentialListBody(views, route);
    }

    /// <summary>Seals and stores a new key for a provider (OpenRouter when none is named).</summary>
    public static async Task<Results<Created<CredentialSaved>, ProblemHttpResult>> CreateCredentialAsync(
        string tenant, CredentialInput? body, LlmCatalogRepository repo, CredentialVault vault, IGrainFactory grains,
        CancellationToken ct)
    {
        if (CredentialVault.Validate(body?.ApiKey, out var key) is { } keyProblem)
        {
            return Problems.Create(400, "credential_invalid", keyProblem);
        }

        if (LabelProblem(body!.Label) is { } labelProblem)
        {
            return labelProblem;
        }

        var provider = body.ProviderId is { } pid
            ? await repo.GetProviderAsync(tenant, pid, ct)
            : (await repo.ListProvidersAsync(tenant, ct)).FirstOrDefault(p => p.Name == LlmCatalogRepository.OpenRouterName);
        if (provider is null)
        {
            return Problems.Create(404, "provider_not_found", "Send \"provider_id\" of one of your providers (GET /api/admin/providers).");
        }

        var label = string.IsNullOrWhiteSpace(body.Label) ? provider.Name : body.Label.Trim();
        var (token, fingerprint, hint) = vault.Seal(key);
        var row = await repo.CreateCredentialAsync(tenant, provider.Id, label, token, fingerprint, hint, ct);
        if (row is null)
        {
            return Problems.Create(409, "credential_exists",
                $"The provider '{provider.Name}' already has a credential; replace its key with PUT /api/admin/providers/credentials/{{id}}.");
        }

        await grains.GetGrain<ITenantGrain>(tenant).InvalidateAsync(ct);
        return TypedResults.Created($"/api/admin/providers/credentials/{row.Id}",
            new CredentialSaved(vault.Describe(row, provider.Name), KeyWarnings(provider, key)));
    }

    /// <summary>Renames a credential or replaces (rotates) its key.</summary>
    public static async Task<Results<Ok<CredentialSaved>, ProblemHttpResult>> UpdateCredentialAsync(
        string tenant, Guid id, CredentialInput? body, LlmCatalogRepository repo, CredentialVault vault, IGrainFactory grains,
        CancellationToken ct)
    {
        (string, string, string)? sealedKey = null;
        string? key = null;
        if (body?.ApiKey is not null)
        {
            if (CredentialVault.Validate(body.ApiKey, out var trimmed) is { } keyProblem)
            {
                return Problems.Create(400, "credential_invalid", keyProblem);
            }

            key = trimmed;
            sealedKey = vault.Seal(trimmed);
        }

        if (LabelProblem(body?.Label) is { } labelProblem)
        {
            return labelProblem;
        }

        var label = body?.Label?.Trim() is { Length: > 0 } l ? l : null;
        var row = await repo.UpdateCredentialAsync(tenant, id, label, sealedKey, ct);
        if (row is null)
        {
            return CredentialNotFound(id);
        }

        await grains.GetGrain<ITenantGrain>(tenant).InvalidateAsync(ct);
        var provider = await repo.GetProviderAsync(tenant, row.ProviderId, ct);
        return TypedResults.Ok(new CredentialSaved(vault.Describe(row, provider?.Name ?? "?"),
            provider is not null && key is not null ? KeyWarnings(provider, key) : []));
    }

    /// <summary>One cheap authenticated call with the stored credential, through the tenant grain.</summary>
    public static async Task<Results<Ok<CredentialTestResult>, ProblemHttpResult>> TestCredentialAsync(
        string tenant, Guid id, LlmCatalogRepository repo, IGrainFactory grains, CancellationToken ct)
    {
        if (await repo.GetCredentialAsync(tenant, id, ct) is null)
        {
            return CredentialNotFound(id);
        }

        return TypedResults.Ok(await grains.GetGrain<ITenantGrain>(tenant).TestCredentialAsync(id, ct));
    }

    public const int MaxLabelLength = 64;

    /// <summary>A label is shown in lists, logs and error messages: 1-64 printable characters. Unset or blank = unchanged, or the provider's name.</summary>
    private static ProblemHttpResult? LabelProblem(string? label) =>
        label?.Trim() is { Length: > 0 } trimmed && (trimmed.Length > MaxLabelLength || trimmed.Any(c => char.IsControl(c) ||
            char.GetUnicodeCategory(c) is System.Globalization.UnicodeCategory.Format or System.Globalization.UnicodeCategory.LineSeparator
                or System.Globalization.UnicodeCategory.ParagraphSeparator or System.Globalization.UnicodeCategory.OtherNotAssigned))
            ? Problems.Create(400, "credential_label_invalid",
                $"label must be 1-{MaxLabelLength} printable characters, without control, line-break or invisible characters (it has {trimmed.Length}).")
            : null;

    private static ProblemHttpResult? NameProblem(string? name) =>
        string.IsNullOrEmpty(name) || name.Length > 100 || name.Any(c => char.IsControl(c) || char.GetUnicodeCategory(c) == System.Globalization.UnicodeCategory.Format)
            ? Problems.Create(400, "provider_name_invalid", "Send a \"name\" of 1-100 characters, without control or invisible characters.")
            : null;

    /// <summary>Only absolute http(s) URLs without user info; the trailing slash is dropped.</summary>
    public static string? BaseUrlProblem(string? text, out string normalized)
    {
        normalized = (text ?? "").Trim().TrimEnd('/');
        if (!Uri.TryCreate(normalized, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") ||
            string.IsNullOrEmpty(uri.Host))
        {
            return $"base_url must be an absolute http(s) URL such as https://openrouter.ai/api/v1 (got '{text}').";
        }

        return string.IsNullOrEmpty(uri.UserInfo)
            ? null
            : "base_url must not carry a user name or password; store the key as a credential instead.";
    }

    private static string? KindOf(string? kind, string baseUrl) => kind?.Trim().ToLowerInvariant() switch
    {
        null or "" => Uri.TryCreate(baseUrl, UriKind.Absolute, out var u) &&
                      (u.Host == "openrouter.ai" || u.Host.EndsWith(".openrouter.ai", StringComparison.Ordinal))
            ? "openrouter"
            : "openai_compatible",
        "openrouter" => "openrouter",
        "openai_compatible" or "openai-compatible" or "openai" => "openai_compatible",
        _ => null,
    };

    private static ImmutableArray<string> KeyWarnings(ProviderRow provider, string key) =>
        provider.Kind == "openrouter" && !key.StartsWith("sk-or-", StringComparison.Ordinal)
            ? ["key_prefix_unexpected: OpenRouter keys start with sk-or-; this key looks like another provider's and OpenRouter will likely reject it. Test it with POST /api/admin/providers/credentials/{id}/test."]
            : [];

    private static string Tenant(HttpContext http) => Caller.From(http.User).TenantId;

    private static ProviderBody ToBody(ProviderRow p) => new(p.Id, p.Name, p.Kind, p.BaseUrl, p.CreatedAt);

    private static ModelBody ToBody(ModelRow m) => new(m.Id, m.ProviderId, m.Model, m.IsDefault, m.CreatedAt);

    private static ProblemHttpResult ProviderNotFound(Guid id) => Problems.Create(404, "provider_not_found", $"No provider {id} in your tenant.");

    private static ProblemHttpResult ModelNotFound(Guid id) => Problems.Create(404, "model_not_found", $"No model {id} in your tenant.");

    private static ProblemHttpResult CredentialNotFound(Guid id) => Problems.Create(404, "credential_not_found", $"No credential {id} in your tenant.");
}
