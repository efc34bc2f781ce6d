namespace AuroraNexus.Tests.Storage;

[Alias("nexus.tests.IStorageProbeGrain")]
public interface IStorageProbeGrain : IGrainWithStringKey
{
    [Alias("Get")]
    Task<string?> GetAsync(CancellationToken ct);

    [Alias("Set")]
    Task SetAsync(string value, CancellationToken ct);

    [Alias("Clear")]
    Task ClearAsync(CancellationToken ct);

    [Alias("RegisterReminder")]
    Task RegisterReminderAsync(string name, CancellationToken ct);

    [Alias("Deactivate")]
    Task DeactivateAsync(CancellationToken ct);
}

[GenerateSerializer, Alias("nexus.tests.StorageProbeState")]
public sealed class StorageProbeState
{
    [Id(0)]
    public string? Value { get; set; }
}

public sealed class StorageProbeGrain(
    [PersistentState("storage-probe", StorageProbeGrain.StorageName)] IPersistentState<StorageProbeState> state)
    : Grain, IStorageProbeGrain, IRemindable
{
    public const string StorageName = "nexus-test";

    public Task<string?> GetAsync(CancellationToken ct) => Task.FromResult(state.State.Value);

    public async Task SetAsync(string value, CancellationToken ct)
    {
        state.State.Value = value;
        await state.WriteStateAsync(ct);
    }

    public Task ClearAsync(CancellationToken ct) => state.ClearStateAsync(ct);

    public async Task RegisterReminderAsync(string name, CancellationToken ct) =>
        await this.RegisterOrUpdateReminder(name, TimeSpan.FromHours(1), TimeSpan.FromHours(1));

    public Task DeactivateAsync(CancellationToken ct)
    {
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    public Task ReceiveReminder(string reminderName, TickStatus status) => Task.CompletedTask;
}
