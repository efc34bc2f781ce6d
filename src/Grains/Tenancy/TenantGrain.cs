using Orleans.Concurrency;

using AuroraNexus.Grains.Storage;

namespace AuroraNexus.Grains.Tenancy;

/// <summary>A tenant's settings, read once and kept until an admin change invalidates them.</summary>
[Reentrant]
public sealed class TenantGrain(SettingsRepository settings) : Grain, ITenantGrain
{
    private TenantSettings? _settings;

    public async Task<TenantSettings> GetSettingsAsync(CancellationToken cancellationToken = default) =>
        _settings ??= await settings.LoadAsync(this.GetPrimaryKeyString(), cancellationToken);

    public Task InvalidateAsync(CancellationToken cancellationToken = default)
    {
        _settings = null;
        return Task.CompletedTask;
    }
}
