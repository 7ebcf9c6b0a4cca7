/// Runs one provider attempt with a time limit, whatever the provider.
enum Deadline {
    /// The operation's result, or `.timeout` when it takes longer than `seconds` (the operation is then cancelled).
    static func run<T: Sendable>(
        seconds: Double,
        _ operation: @escaping @Sendable () async throws(ProviderError) -> T
    )
        async -> Result<T, ProviderError>
    {
        await withTaskGroup(of: Result<T, ProviderError>?.self) { group in
            group.addTask {
                do throws(ProviderError) { return .success(try await operation()) } catch { return .failure(error) }
            }
            group.addTask {
                do { try await Task.sleep(for: .nanoseconds(Int64(seconds * 1e9))) } catch { return nil }
                return .failure(.timeout(seconds: seconds))
            }
            while let result = await group.next() {
                guard let result else { continue }
                group.cancelAll()
                return result
            }
            return .failure(.cancelled)
        }
    }
}
