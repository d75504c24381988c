from service.protos.tensorflow_serving.apis import model_pb2 as _model_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ParameterKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PARAMETER_KIND_UNSPECIFIED: _ClassVar[ParameterKind]
    PARAMETER_KIND_TRAINABLE: _ClassVar[ParameterKind]
    PARAMETER_KIND_NON_TRAINABLE: _ClassVar[ParameterKind]
    PARAMETER_KIND_CONSTANT: _ClassVar[ParameterKind]
PARAMETER_KIND_UNSPECIFIED: ParameterKind
PARAMETER_KIND_TRAINABLE: ParameterKind
PARAMETER_KIND_NON_TRAINABLE: ParameterKind
PARAMETER_KIND_CONSTANT: ParameterKind

class GetParameterSummaryRequest(_message.Message):
    __slots__ = ("model_spec",)
    MODEL_SPEC_FIELD_NUMBER: _ClassVar[int]
    model_spec: _model_pb2.ModelSpec
    def __init__(self, model_spec: _Optional[_Union[_model_pb2.ModelSpec, _Mapping]] = ...) -> None: ...

class CompareParametersRequest(_message.Message):
    __slots__ = ("model_spec", "base_version")
    MODEL_SPEC_FIELD_NUMBER: _ClassVar[int]
    BASE_VERSION_FIELD_NUMBER: _ClassVar[int]
    model_spec: _model_pb2.ModelSpec
    base_version: int
    def __init__(self, model_spec: _Optional[_Union[_model_pb2.ModelSpec, _Mapping]] = ..., base_version: _Optional[int] = ...) -> None: ...

class ParameterSummary(_message.Message):
    __slots__ = ("model", "version", "total_parameters", "trainable_parameters", "non_trainable_parameters", "constant_parameters", "layers")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TOTAL_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    TRAINABLE_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    NON_TRAINABLE_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    CONSTANT_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    LAYERS_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: int
    total_parameters: int
    trainable_parameters: int
    non_trainable_parameters: int
    constant_parameters: int
    layers: _containers.RepeatedCompositeFieldContainer[LayerSummary]
    def __init__(self, model: _Optional[str] = ..., version: _Optional[int] = ..., total_parameters: _Optional[int] = ..., trainable_parameters: _Optional[int] = ..., non_trainable_parameters: _Optional[int] = ..., constant_parameters: _Optional[int] = ..., layers: _Optional[_Iterable[_Union[LayerSummary, _Mapping]]] = ...) -> None: ...

class LayerSummary(_message.Message):
    __slots__ = ("path", "total_parameters", "trainable_parameters", "non_trainable_parameters", "constant_parameters", "variables")
    PATH_FIELD_NUMBER: _ClassVar[int]
    TOTAL_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    TRAINABLE_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    NON_TRAINABLE_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    CONSTANT_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    path: str
    total_parameters: int
    trainable_parameters: int
    non_trainable_parameters: int
    constant_parameters: int
    variables: _containers.RepeatedCompositeFieldContainer[VariableSummary]
    def __init__(self, path: _Optional[str] = ..., total_parameters: _Optional[int] = ..., trainable_parameters: _Optional[int] = ..., non_trainable_parameters: _Optional[int] = ..., constant_parameters: _Optional[int] = ..., variables: _Optional[_Iterable[_Union[VariableSummary, _Mapping]]] = ...) -> None: ...

class VariableSummary(_message.Message):
    __slots__ = ("path", "name", "shape", "dtype", "count", "kind", "min", "max", "mean", "std", "l2_norm", "zero_fraction", "non_finite_count", "histogram", "source")
    PATH_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    MEAN_FIELD_NUMBER: _ClassVar[int]
    STD_FIELD_NUMBER: _ClassVar[int]
    L2_NORM_FIELD_NUMBER: _ClassVar[int]
    ZERO_FRACTION_FIELD_NUMBER: _ClassVar[int]
    NON_FINITE_COUNT_FIELD_NUMBER: _ClassVar[int]
    HISTOGRAM_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    path: str
    name: str
    shape: _containers.RepeatedScalarFieldContainer[int]
    dtype: str
    count: int
    kind: ParameterKind
    min: float
    max: float
    mean: float
    std: float
    l2_norm: float
    zero_fraction: float
    non_finite_count: int
    histogram: Histogram
    source: str
    def __init__(self, path: _Optional[str] = ..., name: _Optional[str] = ..., shape: _Optional[_Iterable[int]] = ..., dtype: _Optional[str] = ..., count: _Optional[int] = ..., kind: _Optional[_Union[ParameterKind, str]] = ..., min: _Optional[float] = ..., max: _Optional[float] = ..., mean: _Optional[float] = ..., std: _Optional[float] = ..., l2_norm: _Optional[float] = ..., zero_fraction: _Optional[float] = ..., non_finite_count: _Optional[int] = ..., histogram: _Optional[_Union[Histogram, _Mapping]] = ..., source: _Optional[str] = ...) -> None: ...

class Histogram(_message.Message):
    __slots__ = ("edges", "counts")
    EDGES_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    edges: _containers.RepeatedScalarFieldContainer[float]
    counts: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, edges: _Optional[_Iterable[float]] = ..., counts: _Optional[_Iterable[int]] = ...) -> None: ...

class ParameterComparison(_message.Message):
    __slots__ = ("model", "base_version", "version", "summary", "variables", "added", "removed", "reshaped")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    BASE_VERSION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    ADDED_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    RESHAPED_FIELD_NUMBER: _ClassVar[int]
    model: str
    base_version: int
    version: int
    summary: ComparisonSummary
    variables: _containers.RepeatedCompositeFieldContainer[VariableComparison]
    added: _containers.RepeatedCompositeFieldContainer[UnmatchedVariable]
    removed: _containers.RepeatedCompositeFieldContainer[UnmatchedVariable]
    reshaped: _containers.RepeatedCompositeFieldContainer[ShapeChange]
    def __init__(self, model: _Optional[str] = ..., base_version: _Optional[int] = ..., version: _Optional[int] = ..., summary: _Optional[_Union[ComparisonSummary, _Mapping]] = ..., variables: _Optional[_Iterable[_Union[VariableComparison, _Mapping]]] = ..., added: _Optional[_Iterable[_Union[UnmatchedVariable, _Mapping]]] = ..., removed: _Optional[_Iterable[_Union[UnmatchedVariable, _Mapping]]] = ..., reshaped: _Optional[_Iterable[_Union[ShapeChange, _Mapping]]] = ...) -> None: ...

class ComparisonSummary(_message.Message):
    __slots__ = ("compared", "changed", "added", "removed", "reshaped", "base_total_parameters", "total_parameters", "largest_change_path", "largest_relative_l2_diff", "max_abs_diff")
    COMPARED_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    ADDED_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    RESHAPED_FIELD_NUMBER: _ClassVar[int]
    BASE_TOTAL_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    LARGEST_CHANGE_PATH_FIELD_NUMBER: _ClassVar[int]
    LARGEST_RELATIVE_L2_DIFF_FIELD_NUMBER: _ClassVar[int]
    MAX_ABS_DIFF_FIELD_NUMBER: _ClassVar[int]
    compared: int
    changed: int
    added: int
    removed: int
    reshaped: int
    base_total_parameters: int
    total_parameters: int
    largest_change_path: str
    largest_relative_l2_diff: float
    max_abs_diff: float
    def __init__(self, compared: _Optional[int] = ..., changed: _Optional[int] = ..., added: _Optional[int] = ..., removed: _Optional[int] = ..., reshaped: _Optional[int] = ..., base_total_parameters: _Optional[int] = ..., total_parameters: _Optional[int] = ..., largest_change_path: _Optional[str] = ..., largest_relative_l2_diff: _Optional[float] = ..., max_abs_diff: _Optional[float] = ...) -> None: ...

class VariableComparison(_message.Message):
    __slots__ = ("path", "kind", "base_kind", "shape", "base_l2_norm", "l2_norm", "l2_norm_change", "max_abs_diff", "l2_diff", "relative_l2_diff", "cosine_similarity", "changed")
    PATH_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    BASE_KIND_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    BASE_L2_NORM_FIELD_NUMBER: _ClassVar[int]
    L2_NORM_FIELD_NUMBER: _ClassVar[int]
    L2_NORM_CHANGE_FIELD_NUMBER: _ClassVar[int]
    MAX_ABS_DIFF_FIELD_NUMBER: _ClassVar[int]
    L2_DIFF_FIELD_NUMBER: _ClassVar[int]
    RELATIVE_L2_DIFF_FIELD_NUMBER: _ClassVar[int]
    COSINE_SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    path: str
    kind: ParameterKind
    base_kind: ParameterKind
    shape: _containers.RepeatedScalarFieldContainer[int]
    base_l2_norm: float
    l2_norm: float
    l2_norm_change: float
    max_abs_diff: float
    l2_diff: float
    relative_l2_diff: float
    cosine_similarity: float
    changed: bool
    def __init__(self, path: _Optional[str] = ..., kind: _Optional[_Union[ParameterKind, str]] = ..., base_kind: _Optional[_Union[ParameterKind, str]] = ..., shape: _Optional[_Iterable[int]] = ..., base_l2_norm: _Optional[float] = ..., l2_norm: _Optional[float] = ..., l2_norm_change: _Optional[float] = ..., max_abs_diff: _Optional[float] = ..., l2_diff: _Optional[float] = ..., relative_l2_diff: _Optional[float] = ..., cosine_similarity: _Optional[float] = ..., changed: _Optional[bool] = ...) -> None: ...

class UnmatchedVariable(_message.Message):
    __slots__ = ("path", "kind", "shape", "dtype", "count")
    PATH_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    path: str
    kind: ParameterKind
    shape: _containers.RepeatedScalarFieldContainer[int]
    dtype: str
    count: int
    def __init__(self, path: _Optional[str] = ..., kind: _Optional[_Union[ParameterKind, str]] = ..., shape: _Optional[_Iterable[int]] = ..., dtype: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class ShapeChange(_message.Message):
    __slots__ = ("path", "base_kind", "kind", "base_shape", "shape")
    PATH_FIELD_NUMBER: _ClassVar[int]
    BASE_KIND_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    BASE_SHAPE_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    path: str
    base_kind: ParameterKind
    kind: ParameterKind
    base_shape: _containers.RepeatedScalarFieldContainer[int]
    shape: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, path: _Optional[str] = ..., base_kind: _Optional[_Union[ParameterKind, str]] = ..., kind: _Optional[_Union[ParameterKind, str]] = ..., base_shape: _Optional[_Iterable[int]] = ..., shape: _Optional[_Iterable[int]] = ...) -> None: ...

class GetActivationSummaryRequest(_message.Message):
    __slots__ = ("model_spec",)
    MODEL_SPEC_FIELD_NUMBER: _ClassVar[int]
    model_spec: _model_pb2.ModelSpec
    def __init__(self, model_spec: _Optional[_Union[_model_pb2.ModelSpec, _Mapping]] = ...) -> None: ...

class GetInputDriftRequest(_message.Message):
    __slots__ = ("model_spec",)
    MODEL_SPEC_FIELD_NUMBER: _ClassVar[int]
    model_spec: _model_pb2.ModelSpec
    def __init__(self, model_spec: _Optional[_Union[_model_pb2.ModelSpec, _Mapping]] = ...) -> None: ...

class ActivationSummary(_message.Message):
    __slots__ = ("model", "version", "signature", "sampled_requests", "layers", "loop_halvings")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    SAMPLED_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    LAYERS_FIELD_NUMBER: _ClassVar[int]
    LOOP_HALVINGS_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: int
    signature: str
    sampled_requests: int
    layers: _containers.RepeatedCompositeFieldContainer[LayerActivations]
    loop_halvings: ActivationStatistics
    def __init__(self, model: _Optional[str] = ..., version: _Optional[int] = ..., signature: _Optional[str] = ..., sampled_requests: _Optional[int] = ..., layers: _Optional[_Iterable[_Union[LayerActivations, _Mapping]]] = ..., loop_halvings: _Optional[_Union[ActivationStatistics, _Mapping]] = ...) -> None: ...

class LayerActivations(_message.Message):
    __slots__ = ("path", "window", "since_load")
    PATH_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    SINCE_LOAD_FIELD_NUMBER: _ClassVar[int]
    path: str
    window: ActivationStatistics
    since_load: ActivationStatistics
    def __init__(self, path: _Optional[str] = ..., window: _Optional[_Union[ActivationStatistics, _Mapping]] = ..., since_load: _Optional[_Union[ActivationStatistics, _Mapping]] = ...) -> None: ...

class ActivationStatistics(_message.Message):
    __slots__ = ("count", "mean", "std", "min", "max", "zero_fraction", "non_finite_fraction", "histogram")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    MEAN_FIELD_NUMBER: _ClassVar[int]
    STD_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    ZERO_FRACTION_FIELD_NUMBER: _ClassVar[int]
    NON_FINITE_FRACTION_FIELD_NUMBER: _ClassVar[int]
    HISTOGRAM_FIELD_NUMBER: _ClassVar[int]
    count: int
    mean: float
    std: float
    min: float
    max: float
    zero_fraction: float
    non_finite_fraction: float
    histogram: Histogram
    def __init__(self, count: _Optional[int] = ..., mean: _Optional[float] = ..., std: _Optional[float] = ..., min: _Optional[float] = ..., max: _Optional[float] = ..., zero_fraction: _Optional[float] = ..., non_finite_fraction: _Optional[float] = ..., histogram: _Optional[_Union[Histogram, _Mapping]] = ...) -> None: ...

class InputDrift(_message.Message):
    __slots__ = ("model", "version", "reference", "window_rows", "inputs")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    WINDOW_ROWS_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: int
    reference: DriftReference
    window_rows: int
    inputs: _containers.RepeatedCompositeFieldContainer[InputDriftScore]
    def __init__(self, model: _Optional[str] = ..., version: _Optional[int] = ..., reference: _Optional[_Union[DriftReference, _Mapping]] = ..., window_rows: _Optional[int] = ..., inputs: _Optional[_Iterable[_Union[InputDriftScore, _Mapping]]] = ...) -> None: ...

class DriftReference(_message.Message):
    __slots__ = ("source", "rows")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    source: str
    rows: int
    def __init__(self, source: _Optional[str] = ..., rows: _Optional[int] = ...) -> None: ...

class InputDriftScore(_message.Message):
    __slots__ = ("name", "score", "features")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    name: str
    score: float
    features: _containers.RepeatedCompositeFieldContainer[FeatureDrift]
    def __init__(self, name: _Optional[str] = ..., score: _Optional[float] = ..., features: _Optional[_Iterable[_Union[FeatureDrift, _Mapping]]] = ...) -> None: ...

class FeatureDrift(_message.Message):
    __slots__ = ("index", "psi", "ks")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    PSI_FIELD_NUMBER: _ClassVar[int]
    KS_FIELD_NUMBER: _ClassVar[int]
    index: int
    psi: float
    ks: float
    def __init__(self, index: _Optional[int] = ..., psi: _Optional[float] = ..., ks: _Optional[float] = ...) -> None: ...

class InputDriftState(_message.Message):
    __slots__ = ("drift", "reference_id", "inputs")
    DRIFT_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_ID_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    drift: InputDrift
    reference_id: str
    inputs: _containers.RepeatedCompositeFieldContainer[InputBins]
    def __init__(self, drift: _Optional[_Union[InputDrift, _Mapping]] = ..., reference_id: _Optional[str] = ..., inputs: _Optional[_Iterable[_Union[InputBins, _Mapping]]] = ...) -> None: ...

class InputBins(_message.Message):
    __slots__ = ("name", "features")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    name: str
    features: _containers.RepeatedCompositeFieldContainer[FeatureBins]
    def __init__(self, name: _Optional[str] = ..., features: _Optional[_Iterable[_Union[FeatureBins, _Mapping]]] = ...) -> None: ...

class FeatureBins(_message.Message):
    __slots__ = ("index", "decile_cuts", "decile_reference", "decile_counts", "percentile_cuts", "percentile_reference", "percentile_counts")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    DECILE_CUTS_FIELD_NUMBER: _ClassVar[int]
    DECILE_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    DECILE_COUNTS_FIELD_NUMBER: _ClassVar[int]
    PERCENTILE_CUTS_FIELD_NUMBER: _ClassVar[int]
    PERCENTILE_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    PERCENTILE_COUNTS_FIELD_NUMBER: _ClassVar[int]
    index: int
    decile_cuts: _containers.RepeatedScalarFieldContainer[float]
    decile_reference: _containers.RepeatedScalarFieldContainer[float]
    decile_counts: _containers.RepeatedScalarFieldContainer[int]
    percentile_cuts: _containers.RepeatedScalarFieldContainer[float]
    percentile_reference: _containers.RepeatedScalarFieldContainer[float]
    percentile_counts: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, index: _Optional[int] = ..., decile_cuts: _Optional[_Iterable[float]] = ..., decile_reference: _Optional[_Iterable[float]] = ..., decile_counts: _Optional[_Iterable[int]] = ..., percentile_cuts: _Optional[_Iterable[float]] = ..., percentile_reference: _Optional[_Iterable[float]] = ..., percentile_counts: _Optional[_Iterable[int]] = ...) -> None: ...
