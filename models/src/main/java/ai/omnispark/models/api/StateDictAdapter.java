package ai.omnispark.models.api;

/**
 * A family's parameter names against the names of the formats it reads and writes: HF
 * transformers / diffusers state dicts and PEFT adapters.
 */
public interface StateDictAdapter {
    /** The HF name of internal parameter {@code name}. */
    String toHf(String name);

    /** The internal name of HF tensor {@code hfName}; null when the model has no such parameter. */
    String fromHf(String hfName);

    /** The PEFT key of adapter parameter {@code name}, e.g. base_model.model.&lt;HF linear&gt;.lora_A.weight. */
    String toPeft(String name);

    /**
     * For an HF tensor the model does not hold because it shares another (a tied lm_head), the HF
     * name of the tensor it must equal; null otherwise.
     */
    default String tiedTo(String hfName) {
        return null;
    }

    /** Why {@link #tiedTo} ties, for the error when the two differ. */
    default String tieReason() {
        return "the model ties these tensors";
    }

    /**
     * Where a folder that stores {@code hfName} fused with others holds it: a contiguous run of
     * elements of one larger tensor (e.g. one expert's gate_proj inside
     * {@code mlp.experts.gate_up_proj} [E, 2*I, H]). Read only when the folder lacks {@code hfName}
     * itself; null when no fused layout holds it.
     */
    default FusedSlice fusedSlice(String hfName) {
        return null;
    }

    /**
     * Elements {@code [offset, offset + numel of the parameter)} of tensor {@code tensor}, which must
     * have shape {@code tensorShape}.
     */
    record FusedSlice(String tensor, long[] tensorShape, long offset) {
        public FusedSlice {
            tensorShape = tensorShape.clone();
        }
    }
}
