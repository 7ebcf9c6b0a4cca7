/// Placeholder: replaced by the validation module.
public enum HeidiValidationModule {}
