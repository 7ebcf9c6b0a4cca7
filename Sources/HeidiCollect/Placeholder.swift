/// Placeholder: replaced by the collection module.
public enum HeidiCollectModule {}
