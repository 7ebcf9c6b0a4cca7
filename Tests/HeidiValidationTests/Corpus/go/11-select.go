func firstResult(ctx context.Context, a, b <-chan string) (string, error) {
	select {
	case r := <-a:
		return r, nil
	case r := <-b:
		return r, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}
